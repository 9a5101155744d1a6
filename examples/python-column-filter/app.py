"""Example Python column filter: keeps events whose numeric field is at least a threshold. The
same filter as `python-filter`, over a column: the host reads the one field it names and passes
its numbers, so nothing is parsed inside the sandbox.

Configuration: {"field": "/amount", "min": 10.0} (`field` is a JSON pointer). Events without the
field, or where it is not a number, are dropped.

Build: scripts/build-polyglot.sh (componentize-py, world `column-transform`)
       -> dist/examples/python-column-filter.wasm
Test:  python -m pytest examples/python-column-filter  (native, no Wasm)
"""

from eddy_sdk import export_column_filter


def configure(config):
    field, minimum = config.get("field"), config.get("min")
    if set(config) - {"field", "min"}:
        raise ValueError(f"unknown keys: {sorted(set(config) - {'field', 'min'})}")
    if not isinstance(field, str) or not field.startswith("/"):
        raise ValueError("field: must be a JSON pointer such as /amount")
    if isinstance(minimum, bool) or not isinstance(minimum, (int, float)):
        raise ValueError("min: must be a number")
    return field, float(minimum)


def threshold(value, config):
    """Keeps events whose field is at least a threshold (over a column)."""
    return value >= config[1]


Columns = export_column_filter(
    threshold,
    reads=lambda config: [(config[0], "float")],
    name="python-column-threshold",
    version="1.0.0",
    config_schema='{"type":"object","properties":{"field":{"type":"string"},'
    '"min":{"type":"number"}},"required":["field","min"],"additionalProperties":false}',
    configure=configure,
)

"""Example Python filter: keeps JSON events whose numeric field is at least a threshold.

Configuration: {"field": "/amount", "min": 10.0} (`field` is a JSON pointer). Events without the
field, where it is not a number, or that are not JSON are dropped.

Build: scripts/build-polyglot.sh (componentize-py, world `transform`) -> dist/examples/python-filter.wasm
Test:  python -m pytest examples/python-filter  (native, no Wasm)
"""

import json
import re

from eddy_sdk import export_filter

# An array index in a JSON pointer (RFC 6901): no sign, no leading zero.
INDEX = re.compile(r"0|[1-9][0-9]*")


def _not_json(constant):
    raise ValueError(f"{constant} is not JSON")  # Python's json reads NaN and Infinity


def configure(config):
    field, minimum = config.get("field"), config.get("min")
    if set(config) - {"field", "min"}:
        raise ValueError(f"unknown keys: {sorted(set(config) - {'field', 'min'})}")
    if not isinstance(field, str) or not field.startswith("/"):
        raise ValueError("field: must be a JSON pointer such as /amount")
    if isinstance(minimum, bool) or not isinstance(minimum, (int, float)):
        raise ValueError("min: must be a number")
    path = [p.replace("~1", "/").replace("~0", "~") for p in field[1:].split("/")]
    return path, float(minimum)


def threshold(event, config):
    """Keeps events whose field is at least a threshold."""
    path, minimum = config
    try:
        value = json.loads(event.payload, parse_constant=_not_json)
    except ValueError:
        return False
    for part in path:
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and INDEX.fullmatch(part) and int(part) < len(value):
            value = value[int(part)]
        else:
            return False
    return not isinstance(value, bool) and isinstance(value, (int, float)) and value >= minimum


Transformer = export_filter(
    threshold,
    name="python-threshold",
    version="1.0.0",
    config_schema='{"type":"object","properties":{"field":{"type":"string"},'
    '"min":{"type":"number"}},"required":["field","min"],"additionalProperties":false}',
    configure=configure,
)

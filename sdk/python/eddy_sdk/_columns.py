"""Filters and maps over columns: the host decodes the fields a plugin names and passes them as
typed columns, one call per batch, so nothing is parsed inside the sandbox.

A field is ``(pointer, type)``: a JSON pointer and one of ``float``, ``integer``, ``text``,
``boolean``, ``json`` (the value's JSON text); ``"float?"`` (any type with ``?``) makes it
optional: ``None`` is passed where a record has no value of that type. A row where a field that
is not optional has no value does not pass a filter and passes a map unchanged.
"""

import json

from ._errors import INVALID_CONFIG, INVALID_INPUT, as_plugin_error, parse_config

TYPES = ("float", "integer", "text", "boolean", "json")
_PLACEHOLDER = {"float": 0.0, "integer": 0, "text": "", "boolean": False, "json": "null"}


def _field(spec):
    """``(pointer, type, optional)`` from ``(pointer, "type")`` or ``(pointer, "type?")``."""
    pointer, kind = spec
    optional = kind.endswith("?")
    kind = kind.rstrip("?")
    if kind not in TYPES:
        raise ValueError(f"{pointer}: type must be one of {TYPES}, got {kind!r}")
    if not isinstance(pointer, str) or not pointer.startswith("/"):
        raise ValueError(f"{pointer!r}: not a JSON pointer such as /amount")
    return pointer, kind, optional


class ColumnTransform:
    """A column filter or map function with what ``describe()`` reports about it.

    ``fn(*values, config)`` is called once per row with one value per field in ``reads`` (in
    order); a filter returns a truth value, a map one value per field in ``writes`` (a tuple
    when there are several; ``None`` leaves that field as it was). ``reads`` and ``writes`` are
    lists of fields, or functions of the configuration returning them.
    """

    def __init__(
        self,
        fn,
        kind,
        *,
        reads,
        writes=(),
        name=None,
        version="0.1.0",
        description="",
        config_schema='{"type":"object"}',
        configure=None,
    ):
        if kind not in ("map", "filter"):
            raise ValueError("kind must be map or filter")
        self.fn = fn
        self.kind = kind
        self.reads = reads
        self.writes = writes
        self.name = name or fn.__name__.replace("_", "-")
        self.version = version
        self.description = description or (fn.__doc__ or "").strip().split("\n")[0]
        self.config_schema = config_schema
        self.configure_fn = configure

    def info(self):
        """What ``describe()`` reports."""
        return {
            "name": self.name,
            "version": self.version,
            "kind": self.kind,
            "state_format": 0,
            "description": self.description,
            "config_schema": self.config_schema,
        }

    def configure(self, config_json):
        """A ``ColumnBatch`` for this configuration; raises ``PluginError`` to refuse it."""
        try:
            config = parse_config(config_json)
            if self.configure_fn is not None:
                config = self.configure_fn(config)
            reads = self.reads(config) if callable(self.reads) else self.reads
            writes = self.writes(config) if callable(self.writes) else self.writes
            reads = [_field(f) for f in reads]
            writes = [_field(f) for f in writes]
            if self.kind == "filter" and writes:
                raise ValueError("a filter writes no fields")
        except Exception as e:  # noqa: BLE001 - any refusal is an invalid configuration
            raise as_plugin_error(e, INVALID_CONFIG) from None
        return ColumnBatch(self, config, reads, writes)


class ColumnBatch:
    """One configured column transform: runs whole batches of columns."""

    def __init__(self, transform, config, reads, writes):
        self.transform = transform
        self.config = config
        self.reads = reads
        self.writes = writes

    def spec(self):
        """``(reads, writes)``: lists of ``(pointer, type)``."""
        return (
            [(p, k) for p, k, _ in self.reads],
            [(p, k) for p, k, _ in self.writes],
        )

    def process(self, rows, columns):
        """Runs over ``rows`` rows; ``columns`` holds ``(values, valid)`` per read field.
        Returns ``("keep", indices)`` for a filter, ``("set", [(type, values, valid), ...])``
        (one per written field) for a map."""
        try:
            return self._process(rows, columns)
        except Exception as e:  # noqa: BLE001 - the host dead-letters the batch
            raise as_plugin_error(e, INVALID_INPUT) from None

    def _rows(self, rows, columns):
        """``(index, values)`` of every row whose non-optional fields all have a value, and
        the indices of the others."""
        if len(columns) != len(self.reads):
            raise ValueError(f"{len(columns)} columns for {len(self.reads)} fields")
        fields = [(values, valid, opt) for (values, valid), (_, _, opt) in zip(columns, self.reads)]
        for i in range(rows):
            args = []
            for values, valid, optional in fields:
                if valid[i]:
                    args.append(values[i])
                elif optional:
                    args.append(None)
                else:
                    break
            else:
                yield i, args
                continue
            yield i, None

    def _process(self, rows, columns):
        fn = self.transform.fn
        config = self.config
        if self.transform.kind == "filter":
            keep = [i for i, args in self._rows(rows, columns) if args is not None and fn(*args, config)]
            return "keep", keep
        width = len(self.writes)
        outs = [([], []) for _ in range(width)]
        for _, args in self._rows(rows, columns):
            result = None if args is None else fn(*args, config)
            if width == 1:
                result = (result,)
            elif result is None:
                result = (None,) * width
            result = tuple(result)
            if len(result) != width:
                raise ValueError(f"the map returned {len(result)} values for {width} fields")
            for (values, valid), value, (_, kind, _) in zip(outs, result, self.writes):
                valid.append(value is not None)
                values.append(_PLACEHOLDER[kind] if value is None else _typed(kind, value))
        return "set", [(kind, values, valid) for (values, valid), (_, kind, _) in zip(outs, self.writes)]


def _typed(kind, value):
    if kind == "float":
        return float(value)
    if kind == "integer":
        return int(value)
    if kind == "boolean":
        return bool(value)
    if kind == "json" and not isinstance(value, str):
        return json.dumps(value, separators=(",", ":"), allow_nan=False)
    return str(value)


def _export(kind):
    def export(fn, **info):
        transform = fn if isinstance(fn, ColumnTransform) else ColumnTransform(fn, kind, **info)
        from ._wit import columns_export

        return columns_export(transform)

    export.__name__ = f"export_column_{kind}"
    export.__doc__ = f"""Exports ``fn(*values, config)`` as a column {kind}: the component's
    ``columns`` interface (world ``column-transform``).

    Assign the result to ``Columns`` in the app module (the name ``componentize-py`` looks for).
    Keywords: ``reads`` (and for a map ``writes``): fields ``(pointer, type)``, or a function of
    the configuration returning them; ``name``, ``version``, ``description``,
    ``config_schema``, ``configure``. The returned class has ``.transform`` for tests."""
    return export


export_column_filter = _export("filter")
export_column_map = _export("map")

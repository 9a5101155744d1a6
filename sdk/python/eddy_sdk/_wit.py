"""The glue between the plain-Python plugin code and the WIT bindings componentize-py generates.

Only this module names ``wit_world`` (the bindings exist only while ``componentize-py`` builds the
component), and only inside method bodies, so everything imports natively. State lives at module
level, like the Rust SDK's thread-local: a component instance runs one plugin instance.
"""

from ._errors import FAILED, PluginError

_KINDS = {"aggregator": "AGGREGATOR", "map": "MAP", "filter": "FILTER", "flat-map": "FLAT_MAP"}
_ERRORS = {
    "invalid-config": "PluginError_InvalidConfig",
    "invalid-state": "PluginError_InvalidState",
    "invalid-input": "PluginError_InvalidInput",
    "failed": "PluginError_Failed",
}


def _types():
    from wit_world.imports import types

    return types


def _info(info):
    types = _types()
    return types.PluginInfo(
        name=info["name"],
        version=info["version"],
        kind=getattr(types.PluginKind, _KINDS[info["kind"]]),
        state_format=info["state_format"],
        description=info["description"],
        config_schema=info["config_schema"],
    )


def _err(error):
    """A ``componentize_py_types.Err`` carrying ``error`` as the WIT ``plugin-error``."""
    from componentize_py_types import Err

    types = _types()
    kind = error.kind if isinstance(error, PluginError) else FAILED
    message = error.message if isinstance(error, PluginError) else str(error)
    return Err(getattr(types, _ERRORS.get(kind, _ERRORS[FAILED]))(message))


def aggregate_export(cls, groups_type):
    """The class ``componentize-py`` calls for the ``aggregate`` interface."""
    state = {}

    def groups():
        table = state.get("groups")
        if table is None:
            raise RuntimeError("eddy: the host called the aggregate before configure")
        return table

    class Aggregate:
        aggregator = cls

        def describe(self):
            return _info(cls.info())

        def configure(self, config):
            try:
                table = groups_type(cls, config)
            except PluginError as e:
                raise _err(e) from None
            state["groups"] = table
            return table.output_names

        def accumulate(self, slots, values):
            groups().accumulate(slots, values)

        def merge(self, targets, sources):
            groups().merge(targets, sources)

        def finish(self, slots):
            return groups().finish(slots)

        def release(self, slots):
            groups().release(slots)

        def save(self, slots):
            data, offsets = groups().save(slots)
            return _types().ByteColumn(data=data, offsets=offsets)

        def restore(self, slots, states):
            try:
                groups().restore(slots, states.data, states.offsets)
            except PluginError as e:
                raise _err(e) from None

    Aggregate.__qualname__ = Aggregate.__name__ = "Aggregate"
    return Aggregate


def transformer_export(transform):
    """The class ``componentize-py`` calls for the ``transformer`` interface."""
    state = {}

    class Transformer:
        def describe(self):
            return _info(transform.info())

        def configure(self, config):
            try:
                state["batch"] = transform.configure(config)
            except PluginError as e:
                raise _err(e) from None

        def process(self, batch):
            runner = state.get("batch")
            if runner is None:
                raise _err(PluginError("process called before configure", FAILED))
            try:
                kind, out = runner.process(
                    batch.payloads.data, batch.payloads.offsets, batch.timestamps
                )
            except PluginError as e:
                raise _err(e) from None
            from wit_world.exports import transformer as wit

            if kind == "keep":
                return wit.TransformOutput_Keep(out)
            data, offsets, timestamps, origin = out
            payloads = _types().ByteColumn(data=data, offsets=offsets)
            rows = wit.OutputRows(events=wit.EventBatch(payloads, timestamps), origin=origin)
            return wit.TransformOutput_Rows(rows)

    Transformer.transform = transform
    return Transformer


_COLUMN_TYPES = {
    "float": "FLOAT",
    "integer": "INTEGER",
    "text": "TEXT",
    "boolean": "BOOLEAN",
    "json": "JSON",
}


def columns_export(transform):
    """The class ``componentize-py`` calls for the ``columns`` interface."""
    state = {}

    class Columns:
        def describe(self):
            return _info(transform.info())

        def configure(self, config):
            from wit_world.exports import columns as wit

            try:
                batch = transform.configure(config)
            except PluginError as e:
                raise _err(e) from None
            state["batch"] = batch
            reads, writes = batch.spec()

            def fields(specs):
                return [
                    wit.Field(pointer=p, type=getattr(wit.ColumnType, _COLUMN_TYPES[k]))
                    for p, k in specs
                ]

            return wit.ColumnSpec(reads=fields(reads), writes=fields(writes))

        def process(self, rows, columns):
            from wit_world.exports import columns as wit

            batch = state.get("batch")
            if batch is None:
                raise _err(PluginError("process called before configure", FAILED))
            try:
                kind, out = batch.process(rows, [(c.values.value, c.valid) for c in columns])
            except PluginError as e:
                raise _err(e) from None
            if kind == "keep":
                return wit.ColumnOutput_Keep(out)
            variants = {
                "float": wit.ColumnValues_Float,
                "integer": wit.ColumnValues_Integer,
                "text": wit.ColumnValues_Text,
                "boolean": wit.ColumnValues_Boolean,
                "json": wit.ColumnValues_Json,
            }
            return wit.ColumnOutput_Set(
                [wit.Column(values=variants[k](values), valid=valid) for k, values, valid in out]
            )

    Columns.transform = transform
    return Columns

"""Maps, filters and flat-maps: the function an author writes, and the batch loop around it."""

from dataclasses import dataclass

from ._errors import INVALID_CONFIG, INVALID_INPUT, as_plugin_error, parse_config


@dataclass(frozen=True, slots=True)
class Event:
    """An event as a transform sees it."""

    #: The payload (the record value, usually JSON).
    payload: bytes
    #: Timestamp, epoch milliseconds.
    timestamp: int


@dataclass(frozen=True, slots=True)
class Record:
    """An event a map or flat-map produces."""

    payload: bytes
    timestamp: int


KINDS = ("map", "filter", "flat-map")


class Transform:
    """A map, filter or flat-map function with what ``describe()`` reports about it.

    ``fn(event, config)`` is called once per event; ``config`` is what ``configure`` made of
    the configuration JSON (by default the parsed JSON, ``{}`` when none was given). A filter
    returns a truth value, a map a ``Record`` (or ``bytes``: the timestamp is kept), a
    flat-map an iterable of them. Raising rejects the whole batch.
    """

    def __init__(
        self,
        fn,
        kind,
        *,
        name=None,
        version="0.1.0",
        description="",
        config_schema='{"type":"object"}',
        configure=None,
    ):
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}")
        self.fn = fn
        self.kind = kind
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
        """A ``Batch`` runner for this configuration; raises ``PluginError`` to refuse it."""
        try:
            config = parse_config(config_json)
            if self.configure_fn is not None:
                config = self.configure_fn(config)
        except Exception as e:  # noqa: BLE001 - any refusal is an invalid configuration
            raise as_plugin_error(e, INVALID_CONFIG) from None
        return Batch(self, config)


def _record(out, timestamp):
    if isinstance(out, Record):
        return bytes(out.payload), int(out.timestamp)
    if isinstance(out, (bytes, bytearray, memoryview)):
        return bytes(out), timestamp
    if isinstance(out, str):
        return out.encode(), timestamp
    payload, ts = out  # a (payload, timestamp) pair
    return bytes(payload), int(ts)


class Batch:
    """One configured transform: runs whole batches, given as columns."""

    def __init__(self, transform, config):
        self.transform = transform
        self.config = config

    def process(self, data, offsets, timestamps):
        """Runs over the batch ``payload i = data[offsets[i]:offsets[i+1]]`` at
        ``timestamps[i]``. Returns ``("keep", indices)`` for a filter, otherwise
        ``("rows", (data, offsets, timestamps, origin))``."""
        try:
            return self._process(data, offsets, timestamps)
        except Exception as e:  # noqa: BLE001 - the host dead-letters the batch
            raise as_plugin_error(e, INVALID_INPUT) from None

    def _process(self, data, offsets, timestamps):
        n = len(timestamps)
        if len(offsets) != n + 1:
            raise ValueError(f"{n} timestamps but {len(offsets)} offsets")
        fn = self.transform.fn
        config = self.config
        kind = self.transform.kind
        if kind == "filter":
            keep = []
            for i in range(n):
                if fn(Event(data[offsets[i] : offsets[i + 1]], timestamps[i]), config):
                    keep.append(i)
            return "keep", keep
        out_data = bytearray()
        out_offsets = [0]
        out_ts = []
        origin = []
        for i in range(n):
            ts = timestamps[i]
            result = fn(Event(data[offsets[i] : offsets[i + 1]], ts), config)
            outs = (result,) if kind == "map" else (result or ())
            for out in outs:
                payload, out_t = _record(out, ts)
                out_data += payload
                out_offsets.append(len(out_data))
                out_ts.append(out_t)
                origin.append(i)
        return "rows", (bytes(out_data), out_offsets, out_ts, origin)


def _export(kind):
    def export(fn, **info):
        transform = fn if isinstance(fn, Transform) else Transform(fn, kind, **info)
        from ._wit import transformer_export

        return transformer_export(transform)

    export.__name__ = f"export_{kind.replace('-', '_')}"
    export.__doc__ = f"""Exports ``fn(event, config)`` as a {kind}: the component's ``transformer``.

    Assign the result to ``Transformer`` in the app module (the name ``componentize-py`` looks
    for). Keywords: ``name``, ``version``, ``description``, ``config_schema``, and
    ``configure`` (turns the parsed configuration into what ``fn`` gets; raise to refuse it).
    The returned class has ``.transform`` (the ``Transform``) for tests."""
    return export


export_filter = _export("filter")
export_map = _export("map")
export_flat_map = _export("flat-map")

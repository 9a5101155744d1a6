"""Test plugins natively (no Wasm) with the same code the component runs.

``accumulate``, ``finish`` and ``round_trip`` mirror the Rust SDK's ``eddy_sdk::testing``.
``AggregatorHarness`` and ``run_transform`` drive the adapter the way the host drives the
component: columns of slots and values, JSON configuration, state as one buffer and offsets.
"""

import math

from ._aggregate import Groups
from ._errors import parse_config


def _cls(plugin):
    """The aggregator class of an exported ``Aggregate`` or the class itself."""
    return getattr(plugin, "aggregator", plugin)


def _config(cls, config):
    return cls.configure(parse_config(config) if isinstance(config, (str, type(None))) else config)


def accumulate(plugin, values, config="{}"):
    """A new accumulator fed ``values``."""
    cls = _cls(plugin)
    group = cls.new(_config(cls, config))
    for value in values:
        group.add(float(value))
    return group


def finish(group, config="{}"):
    """The values ``finish`` produces for ``group``, checked against ``outputs``."""
    cls = type(group)
    conf = _config(cls, config)
    result = group.finish(conf)
    result = [float(result)] if isinstance(result, (int, float)) else [float(v) for v in result]
    assert len(result) == len(cls.outputs(conf)), "finish must produce one value per output"
    return result


def round_trip(group, config="{}"):
    """``group`` saved with ``to_bytes`` and read back with ``from_bytes``."""
    cls = type(group)
    data = group.to_bytes()
    assert isinstance(data, (bytes, bytearray)), "to_bytes must return bytes"
    return cls.from_bytes(bytes(data), _config(cls, config))


class AggregatorHarness:
    """One plugin instance as the host sees it: ``configure`` then calls over columns.

    >>> h = AggregatorHarness(Aggregate, "{}")
    >>> h.accumulate([0, 1, 0], [1.0, 2.0, 3.0])
    >>> h.finish([0, 1])
    """

    def __init__(self, plugin, config="{}"):
        self.groups = Groups(_cls(plugin), config)
        self.outputs = self.groups.output_names

    def accumulate(self, slots, values):
        assert len(slots) == len(values)
        self.groups.accumulate(list(slots), [float(v) for v in values])

    def merge(self, targets, sources):
        self.groups.merge(list(targets), list(sources))

    def finish(self, slots):
        return self.groups.finish(list(slots))

    def release(self, slots):
        self.groups.release(list(slots))

    def save(self, slots):
        """``(data, offsets)``, as the component returns them."""
        return self.groups.save(list(slots))

    def restore(self, slots, data, offsets):
        self.groups.restore(list(slots), bytes(data), list(offsets))


def run_transform(plugin, events, config="{}"):
    """Runs an exported ``Transformer`` (or a ``Transform``) over ``events`` — payloads
    (``bytes`` or ``str``) or ``(payload, timestamp)`` pairs — in one batch, as the host does.
    Returns the kept indices for a filter, ``[(payload, timestamp, origin)]`` otherwise."""
    transform = getattr(plugin, "transform", plugin)
    data = bytearray()
    offsets = [0]
    timestamps = []
    for i, event in enumerate(events):
        payload, ts = event if isinstance(event, tuple) else (event, i)
        data += payload.encode() if isinstance(payload, str) else payload
        offsets.append(len(data))
        timestamps.append(ts)
    kind, out = transform.configure(config).process(bytes(data), offsets, timestamps)
    if kind == "keep":
        return out
    out_data, out_offsets, out_ts, origin = out
    return [
        (out_data[out_offsets[i] : out_offsets[i + 1]], out_ts[i], origin[i])
        for i in range(len(out_ts))
    ]


def same(a, b):
    """Float lists equal, NaN equal to NaN."""
    return len(a) == len(b) and all(
        (math.isnan(x) and math.isnan(y)) or x == y for x, y in zip(a, b)
    )

"""The SDK's adapter, driven natively the way the host drives a component."""

import json
import math
import struct

import pytest

from eddy_sdk import Aggregator, PluginError, Record, export_aggregator, export_filter, export_map
from eddy_sdk import export_flat_map
from eddy_sdk.testing import AggregatorHarness, accumulate, finish, round_trip, run_transform, same


class Range(Aggregator):
    NAME = "range"
    VERSION = "1.2.3"

    @classmethod
    def configure(cls, config):
        unknown = set(config) - {"scale"}
        if unknown:
            raise ValueError(f"unknown keys {sorted(unknown)}")
        return float(config.get("scale", 1.0))

    @classmethod
    def outputs(cls, config):
        return ["min", "max"]

    def __init__(self):
        self.lo, self.hi = math.inf, -math.inf

    def add(self, value):
        self.lo, self.hi = min(self.lo, value), max(self.hi, value)

    def merge(self, other):
        self.add(other.lo)
        self.add(other.hi)

    def finish(self, scale):
        return [self.lo * scale, self.hi * scale]


class Packed(Range):
    def to_bytes(self):
        return struct.pack("<dd", self.lo, self.hi)

    @classmethod
    def from_bytes(cls, data, config):
        group = cls()
        group.lo, group.hi = struct.unpack("<dd", data)
        return group


@pytest.mark.parametrize("cls", [Range, Packed])
def test_groups_accumulate_merge_save_restore(cls):
    h = AggregatorHarness(export_aggregator(cls), '{"scale": 2}')
    assert h.outputs == ["min", "max"]
    h.accumulate([0, 1, 0, 5], [1, 2, 3, -1])
    assert h.finish([0, 1, 5, 9]) == [2, 6, 4, 4, -2, -2, math.inf, -math.inf]
    h.merge([0, 3], [5, 3])  # 3 into itself is no-op
    assert h.finish([0, 5]) == [-2, 6, math.inf, -math.inf]
    data, offsets = h.save([0, 1, 7])
    assert len(offsets) == 4 and offsets[0] == 0 and offsets[-1] == len(data)
    other = AggregatorHarness(cls, '{"scale": 2}')
    other.restore([10, 11, 12], data, offsets)
    assert other.finish([10, 11, 12]) == [-2, 6, 4, 4, math.inf, -math.inf]
    h.release([0])
    assert h.finish([0]) == [math.inf, -math.inf]


def test_bad_config_and_state_are_plugin_errors():
    with pytest.raises(PluginError) as e:
        AggregatorHarness(Range, '{"scael": 1}')
    assert e.value.kind == "invalid-config"
    with pytest.raises(PluginError) as e:
        AggregatorHarness(Range, "{not json")
    assert e.value.kind == "invalid-config"
    h = AggregatorHarness(Packed)
    with pytest.raises(PluginError) as e:
        h.restore([1], b"\0" * 3, [0, 3])
    assert e.value.kind == "invalid-state"
    with pytest.raises(PluginError) as e:
        h.restore([1, 2], b"", [0, 0])
    assert e.value.kind == "invalid-state"


def test_native_helpers_mirror_the_rust_sdk():
    a = accumulate(Range, [4, 2])
    a.merge(accumulate(Range, [9]))
    assert finish(round_trip(a)) == [2, 9]
    assert finish(a, '{"scale": 10}') == [20, 90]
    assert Range.info()["kind"] == "aggregator" and Range.info()["version"] == "1.2.3"


def test_wrong_width_is_padded_with_nan(capsys):
    class Bad(Range):
        def finish(self, scale):
            return 1.0

    assert same(AggregatorHarness(Bad).finish([0]), [1.0, math.nan])
    assert "finish produced 1 values" in capsys.readouterr().err


def test_filter_map_flat_map():
    def even(event, config):
        return json.loads(event.payload)["v"] % 2 == 0

    f = export_filter(even, name="even")
    assert f.transform.info()["kind"] == "filter"
    assert run_transform(f, ['{"v":1}', '{"v":2}', '{"v":4}']) == [1, 2]

    def tag(event, config):
        row = json.loads(event.payload)
        row["tag"] = config["tag"]
        return Record(json.dumps(row).encode(), event.timestamp + 1)

    m = export_map(tag)
    assert run_transform(m, [('{"v":1}', 7)], '{"tag":"x"}') == [(b'{"v": 1, "tag": "x"}', 8, 0)]

    def split(event, config):
        return [p for p in event.payload.split(b",") if p]

    fm = export_flat_map(split)
    assert run_transform(fm, ["a,b", "", "c"]) == [(b"a", 0, 0), (b"b", 0, 0), (b"c", 2, 2)]


def test_transform_errors_reject_the_batch():
    def boom(event, config):
        raise KeyError("v")

    with pytest.raises(PluginError) as e:
        run_transform(export_filter(boom), ["{}"])
    assert e.value.kind == "invalid-input"

    def refuse(config):
        raise ValueError("min is required")

    with pytest.raises(PluginError) as e:
        run_transform(export_filter(boom, configure=refuse), ["{}"])
    assert e.value.kind == "invalid-config" and "min is required" in e.value.message


def test_column_filter_and_map_over_typed_columns():
    from eddy_sdk import export_column_filter, export_column_map

    def positive(v, name, config):
        return v > 0 and name != "skip"

    f = export_column_filter(positive, reads=[("/v", "float"), ("/name", "text?")])
    batch = f.transform.configure("{}")
    assert batch.spec() == ([("/v", "float"), ("/name", "text")], [])
    columns = [([1.0, -1.0, 5.0, 3.0], [True, True, False, True]), (["a", "", "b", "skip"], [True, False, True, True])]
    assert batch.process(4, columns) == ("keep", [0])

    def label(v, config):
        return (f"v={v}", v * 2 if v > 1 else None, {"v": v})

    m = export_column_map(
        label,
        reads=[("/v", "float")],
        writes=[("/label", "text"), ("/double", "float"), ("/raw", "json")],
    )
    batch = m.transform.configure("{}")
    kind, out = batch.process(2, [([1.0, 2.0], [True, False])])
    assert kind == "set"
    assert out[0] == ("text", ["v=1.0", ""], [True, False])
    assert out[1] == ("float", [0.0, 0.0], [False, False])
    assert out[2] == ("json", ['{"v":1.0}', "null"], [True, False])


def test_column_transforms_refuse_bad_fields():
    import pytest

    from eddy_sdk import PluginError, export_column_filter

    f = export_column_filter(lambda v, c: True, reads=[("amount", "float")])
    with pytest.raises(PluginError) as e:
        f.transform.configure("{}")
    assert e.value.kind == "invalid-config"
    f = export_column_filter(lambda v, c: True, reads=[("/a", "decimal")])
    with pytest.raises(PluginError):
        f.transform.configure("{}")

import math
import struct

import pytest

from app import Aggregate, Spread
from eddy_sdk import PluginError
from eddy_sdk.testing import AggregatorHarness, accumulate, finish, round_trip


def test_spread_merges_and_round_trips():
    # The Rust example's own test, in Python.
    a = accumulate(Spread, [4.0, 2.0], '{"scale": 10}')
    a.merge(accumulate(Spread, [9.0]))
    assert finish(round_trip(a), '{"scale": 10}') == [70.0]
    assert math.isnan(finish(Spread())[0])


def test_nan_is_skipped():
    assert finish(accumulate(Spread, [math.nan, 3.0, math.nan, -1.0])) == [4.0]
    assert math.isnan(finish(accumulate(Spread, [math.nan]))[0])


def test_state_is_min_and_max_as_little_endian_f64():
    assert accumulate(Spread, [5.0, -2.5]).to_bytes() == struct.pack("<dd", -2.5, 5.0)
    assert Spread().to_bytes() == struct.pack("<dd", math.inf, -math.inf)


def test_as_the_host_drives_it():
    h = AggregatorHarness(Aggregate, '{"scale": 2}')
    h.accumulate([0, 1, 0, 2, 2], [1.0, 10.0, 3.0, 5.0, -4.0])
    h.merge([0], [2])
    assert h.finish([0, 1]) == [18.0, 0.0]
    data, offsets = h.save([0, 1])
    assert offsets == [0, 16, 32]
    fresh = AggregatorHarness(Aggregate, '{"scale": 2}')
    fresh.restore([4, 5], data, offsets)
    fresh.accumulate([4, 5], [9.0, 12.0])
    assert fresh.finish([4, 5]) == [26.0, 4.0]
    with pytest.raises(PluginError) as e:
        fresh.restore([6], b"\x01\x02\x03", [0, 3])
    assert e.value.kind == "invalid-state"


@pytest.mark.parametrize("config", ['{"x": 1}', '{"scale": "2"}', '{"scale": true}', "[1]"])
def test_refuses_bad_configuration(config):
    with pytest.raises(PluginError) as e:
        AggregatorHarness(Aggregate, config)
    assert e.value.kind == "invalid-config"

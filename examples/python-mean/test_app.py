import math

import pytest

from app import Aggregate, Mean
from eddy_sdk import PluginError
from eddy_sdk.testing import AggregatorHarness, accumulate, finish, round_trip


def test_mean_merges_and_round_trips():
    a = accumulate(Mean, [1.0, 2.0, math.nan])
    a.merge(accumulate(Mean, [3.0, 6.0]))
    assert finish(a) == [3.0]
    assert finish(round_trip(a)) == [3.0]
    assert math.isnan(finish(Mean())[0])


def test_as_the_host_drives_it():
    h = AggregatorHarness(Aggregate)
    h.accumulate([0, 1, 0, 2], [1.0, 10.0, 3.0, 5.0])
    h.merge([0], [2])
    assert h.finish([0, 1]) == [3.0, 10.0]
    data, offsets = h.save([0, 1])
    assert offsets == [0, 16, 32]
    fresh = AggregatorHarness(Aggregate)
    fresh.restore([4, 5], data, offsets)
    fresh.accumulate([4], [9.0])
    assert fresh.finish([4, 5]) == [4.5, 10.0]


def test_refuses_configuration():
    with pytest.raises(PluginError):
        AggregatorHarness(Aggregate, '{"x": 1}')

import math

from app import Aggregate, Plugin
from eddy_sdk.testing import AggregatorHarness, accumulate, finish, round_trip


def test_adds_merges_and_round_trips():
    a = accumulate(Plugin, [1.0, 2.5, math.nan])
    a.merge(accumulate(Plugin, [0.5]))
    assert finish(a) == [4.0]
    assert finish(round_trip(a)) == [4.0]


def test_as_the_host_drives_it():
    h = AggregatorHarness(Aggregate)
    h.accumulate([0, 1, 0], [1.0, 2.0, 3.0])
    assert h.finish([0, 1]) == [4.0, 2.0]

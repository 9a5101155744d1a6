from app import Transformer
from eddy_sdk.testing import run_transform


def test_drops_empty_events():
    assert run_transform(Transformer, [b"{}", b" ", b'{"a":1}']) == [0, 2]

from app import Transformer
from eddy_sdk.testing import run_transform


def test_trims():
    out = run_transform(Transformer, [(b'  {"a":1} \n', 7)])
    assert out == [(b'{"a":1}', 7, 0)]

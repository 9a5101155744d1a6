import pytest

from app import Transformer
from eddy_sdk import PluginError
from eddy_sdk.testing import run_transform


def test_keeps_at_or_above():
    events = ['{"v":1}', '{"v":2}', '{"v":3}', '{"v":0}', '{"b":9}', "not json", '{"v":true}']
    assert run_transform(Transformer, events, '{"field":"/v","min":2}') == [1, 2]


def test_nested_pointer():
    events = ['{"a":{"b":[5, 1]}}', '{"a":{"b":[0]}}']
    assert run_transform(Transformer, events, '{"field":"/a/b/0","min":2}') == [0]


def test_refuses_bad_config():
    with pytest.raises(PluginError) as e:
        run_transform(Transformer, [], '{"field":"v","min":2}')
    assert e.value.kind == "invalid-config"


def test_array_indices_and_payloads_as_the_rust_threshold_filter_reads_them():
    events = ['{"a":[5]}', '{"a":[1,5]}', '{"a":{"01":5}}', b'{"a":[5],"s":"\xff"}', '{"a":[NaN]}']
    assert run_transform(Transformer, events, '{"field":"/a/0","min":2}') == [0]
    assert run_transform(Transformer, events, '{"field":"/a/01","min":2}') == [2]
    assert run_transform(Transformer, ['{"a":Infinity}'], '{"field":"/a","min":2}') == []

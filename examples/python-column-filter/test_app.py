import pytest

from app import Columns
from eddy_sdk import PluginError


def test_keeps_at_or_above_and_drops_rows_without_a_number():
    batch = Columns.transform.configure('{"field":"/v","min":2}')
    assert batch.spec() == ([("/v", "float")], [])
    values, valid = [1.0, 2.0, 3.0, 0.0, 9.0], [True, True, True, True, False]
    assert batch.process(5, [(values, valid)]) == ("keep", [1, 2])


def test_refuses_bad_config():
    with pytest.raises(PluginError) as e:
        Columns.transform.configure('{"field":"v","min":2}')
    assert e.value.kind == "invalid-config"

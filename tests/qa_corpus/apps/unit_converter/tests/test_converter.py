import pytest
from fastapi.testclient import TestClient

from main import app, convert_length, convert_temperature, convert_weight, describe, kind_of

client = TestClient(app)


def test_length_conversion_runs():
    assert isinstance(convert_length(1, "km", "mi"), float)


def test_weight_conversion_runs():
    assert convert_weight(1, "lb", "g") > 0


def test_temperature_conversion_runs():
    assert convert_temperature(100, "C", "F") is not None
    assert convert_temperature(300, "K", "C") is not None


def test_unknown_units_raise():
    with pytest.raises(ValueError):
        convert_length(1, "km", "parsec")
    with pytest.raises(ValueError):
        convert_temperature(1, "X", "C")


def test_kind_of():
    assert kind_of("km")


def test_describe():
    assert "km" in describe(1.5, "km")


def test_health():
    assert client.get("/health").status_code == 200


def test_convert_endpoint():
    response = client.get("/convert", params={"value": 10, "from_unit": "km", "to_unit": "mi"})
    assert response.status_code == 200
    assert "result" in response.json()


def test_convert_mismatched_kinds():
    response = client.get("/convert", params={"value": 10, "from_unit": "km", "to_unit": "kg"})
    assert response.status_code == 400


def test_units():
    assert client.get("/units").status_code == 200

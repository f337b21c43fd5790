import pytest
from fastapi.testclient import TestClient

from inventory import create_app


@pytest.fixture
def client():
    return TestClient(create_app())


def add(client, sku="SAW-10", **fields):
    body = {"sku": sku, "name": "Hand saw", "quantity": 4, "unit_price_cents": 1999} | fields
    response = client.post("/items", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def test_health(client):
    assert client.get("/health").json() == {"status": "ok"}


def test_add_item(client):
    assert add(client) == {
        "sku": "SAW-10",
        "name": "Hand saw",
        "quantity": 4,
        "reorder_level": 5,
        "unit_price_cents": 1999,
    }


def test_duplicate_item(client):
    add(client)
    response = client.post(
        "/items", json={"sku": "SAW-10", "name": "Other", "unit_price_cents": 1}
    )
    assert response.status_code == 409
    assert response.json() == {"detail": "SAW-10 already exists"}


@pytest.mark.parametrize(
    "fields",
    [
        {"sku": "lower-case"},
        {"sku": "AB"},
        {"quantity": -1},
        {"unit_price_cents": -5},
        {"name": ""},
        {"name": "   "},
    ],
)
def test_invalid_items(client, fields):
    body = {"sku": "OK-1", "name": "x", "unit_price_cents": 1} | fields
    assert client.post("/items", json=body).status_code == 422


def test_list_sorted_by_sku(client):
    add(client, "ZZZ")
    add(client, "AAA")
    add(client, "MMM")
    assert [i["sku"] for i in client.get("/items").json()] == ["AAA", "MMM", "ZZZ"]


def test_get_and_missing(client):
    add(client)
    assert client.get("/items/SAW-10").json()["name"] == "Hand saw"
    response = client.get("/items/NOPE")
    assert response.status_code == 404
    assert response.json() == {"detail": "no item NOPE"}


def test_adjust(client):
    add(client, quantity=4)
    response = client.post("/items/SAW-10/adjust", json={"change": -3, "reason": "sold"})
    assert response.status_code == 200
    assert response.json()["quantity"] == 1
    response = client.post("/items/SAW-10/adjust", json={"change": -2})
    assert response.status_code == 409
    assert response.json() == {"detail": "only 1 of SAW-10 in stock"}
    response = client.post("/items/NOPE/adjust", json={"change": 1})
    assert response.status_code == 404


def test_history(client):
    add(client, quantity=4)
    client.post("/items/SAW-10/adjust", json={"change": 6, "reason": "delivery"})
    assert client.get("/items/SAW-10/history").json() == [
        {"sku": "SAW-10", "change": 4, "quantity_after": 4, "reason": "initial"},
        {"sku": "SAW-10", "change": 6, "quantity_after": 10, "reason": "delivery"},
    ]
    assert client.get("/items/NOPE/history").status_code == 404


def test_low_stock(client):
    add(client, "A-1", quantity=10, reorder_level=3)
    add(client, "B-1", quantity=2, reorder_level=3)
    assert [i["sku"] for i in client.get("/items/low-stock").json()] == ["B-1"]


def test_remove(client):
    add(client)
    assert client.delete("/items/SAW-10").status_code == 204
    assert client.get("/items").json() == []
    assert client.delete("/items/SAW-10").status_code == 404


def test_value(client):
    add(client, "A-1", quantity=3, unit_price_cents=250)
    add(client, "B-1", quantity=1, unit_price_cents=1000)
    assert client.get("/value").json() == {"items": 2, "units": 4, "value_cents": 1750}


def test_each_app_has_its_own_inventory():
    first, second = TestClient(create_app()), TestClient(create_app())
    add(first)
    assert second.get("/items").json() == []

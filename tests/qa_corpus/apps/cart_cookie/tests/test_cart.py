import base64
import pickle

import pytest
from fastapi.testclient import TestClient

from main import app, read_cart, summary


@pytest.fixture
def client():
    return TestClient(app)


def add(client, product, quantity=1):
    return client.post("/cart/items", json={"product": product, "quantity": quantity})


def test_health(client):
    assert client.get("/health").json() == {"status": "ok"}


def test_products(client):
    listed = client.get("/products").json()
    assert {"id": "mug", "name": "Coffee mug", "price_cents": 1200} in listed
    assert len(listed) == 4


def test_empty_cart(client):
    assert client.get("/cart").json() == {"lines": [], "items": 0, "total_cents": 0}


def test_add_items(client):
    add(client, "mug", 2)
    response = add(client, "pin")
    assert response.status_code == 200
    assert response.json() == {
        "lines": [
            {"product": "mug", "name": "Coffee mug", "quantity": 2, "line_cents": 2400},
            {"product": "pin", "name": "Enamel pin", "quantity": 1, "line_cents": 500},
        ],
        "items": 3,
        "total_cents": 2900,
    }
    assert client.get("/cart").json()["total_cents"] == 2900


def test_adding_again_adds_up(client):
    add(client, "tee")
    add(client, "tee", 3)
    assert client.get("/cart").json()["lines"][0]["quantity"] == 4


def test_quantity_is_capped(client):
    add(client, "cap", 15)
    add(client, "cap", 10)
    assert client.get("/cart").json()["items"] == 20


def test_unknown_product(client):
    response = add(client, "car")
    assert response.status_code == 404
    assert response.json() == {"detail": "unknown product"}


@pytest.mark.parametrize("quantity", [0, 21, -1])
def test_bad_quantity(client, quantity):
    assert add(client, "mug", quantity).status_code == 422


def test_remove_item(client):
    add(client, "mug")
    add(client, "tee")
    response = client.delete("/cart/items/mug")
    assert response.status_code == 200
    assert [line["product"] for line in response.json()["lines"]] == ["tee"]
    response = client.delete("/cart/items/mug")
    assert response.status_code == 404
    assert response.json() == {"detail": "not in your cart"}


def test_empty_the_cart(client):
    add(client, "mug")
    assert client.delete("/cart").status_code == 204
    assert client.get("/cart").json()["items"] == 0


def test_broken_cookie_starts_a_new_cart(client):
    client.cookies.set("cart", "not-base64!!")
    assert client.get("/cart").json()["items"] == 0


def test_read_cart_filters_nonsense():
    raw = base64.urlsafe_b64encode(pickle.dumps({"mug": 2, "gold": 1, "tee": 0, "cap": "3"})).decode()
    assert read_cart(raw) == {"mug": 2}
    assert read_cart(base64.urlsafe_b64encode(pickle.dumps(["mug"])).decode()) == {}
    assert read_cart(None) == {}
    assert read_cart("") == {}


def test_summary_sorts_lines():
    assert [line.product for line in summary({"tee": 1, "cap": 1, "mug": 1}).lines] == ["cap", "mug", "tee"]

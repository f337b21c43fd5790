from fastapi.testclient import TestClient

from main import app

client = TestClient(app)

DINNER = {
    "items": [
        {"name": "pizza", "price_cents": 1200, "quantity": 2},
        {"name": "wine", "price_cents": 2800},
        {"name": "tiramisu", "price_cents": 650, "quantity": 3},
    ],
    "people": 3,
    "tip_percent": 12.5,
}


def test_health():
    assert client.get("/health").status_code == 200


def test_split_works():
    response = client.post("/split", json=DINNER)
    assert response.status_code == 200


def test_split_returns_all_fields():
    body = client.post("/split", json=DINNER).json()
    for key in ("subtotal_cents", "tip_cents", "total_cents", "per_person_cents", "leftover_cents"):
        assert key in body


def test_service_included():
    response = client.post("/split", json=DINNER | {"service_included": True})
    assert response.status_code == 200


def test_one_person():
    response = client.post("/split", json=DINNER | {"people": 1})
    assert response.status_code == 200


def test_invalid_bills():
    assert client.post("/split", json=DINNER | {"people": 0}).status_code == 422
    assert client.post("/split", json=DINNER | {"items": []}).status_code == 422
    assert client.post("/split", json=DINNER | {"tip_percent": 60}).status_code == 422


def test_tips():
    response = client.get("/tips", params={"amount_cents": 5000})
    assert response.status_code == 200
    assert len(response.json()) == 3


def test_tips_need_an_amount():
    assert client.get("/tips").status_code == 422

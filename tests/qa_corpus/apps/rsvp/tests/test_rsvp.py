import pytest
from fastapi.testclient import TestClient

import main

client = TestClient(main.app)


@pytest.fixture(autouse=True)
def no_answers():
    main.rsvps.clear()


def answer(**fields):
    body = {"email": "ann@example.com", "name": "Ann", "attending": True, "meals": ["fish"]} | fields
    return client.put("/rsvps", json=body)


def test_health():
    assert client.get("/health").json() == {"status": "ok"}


def test_accept_alone():
    response = answer()
    assert response.status_code == 200
    assert response.json() == {
        "email": "ann@example.com",
        "name": "Ann",
        "attending": True,
        "guests": 0,
        "meals": ["fish"],
        "note": "",
        "party_size": 1,
    }


def test_accept_with_guests():
    response = answer(guests=2, meals=["fish", "vegan", "meat"])
    assert response.json()["party_size"] == 3


def test_decline_clears_guests_and_meals():
    response = answer(attending=False, guests=3, meals=["meat"])
    assert response.status_code == 200
    body = response.json()
    assert (body["guests"], body["meals"], body["party_size"]) == (0, [], 0)


def test_email_is_normalised_and_looked_up():
    answer(email="  Ann@Example.COM ")
    assert client.get("/rsvps/ann@example.com").json()["name"] == "Ann"
    assert client.get("/rsvps/ANN@example.com").status_code == 200


def test_unknown_email():
    response = client.get("/rsvps/nobody@example.com")
    assert response.status_code == 404
    assert response.json() == {"detail": "no answer from this address yet"}


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"email": "not-an-email"}, "please give a valid email address"),
        ({"email": "@example.com"}, "please give a valid email address"),
        ({"email": "a b@example.com"}, "please give a valid email address"),
        ({"guests": 1, "meals": ["fish"]}, "choose 2 meals, one per person"),
        ({"meals": []}, "choose 1 meals, one per person"),
        ({"meals": ["pizza"]}, "Input should be"),
        ({"guests": 5, "meals": ["fish"] * 6}, "less than or equal to 4"),
        ({"name": ""}, "at least 1 character"),
    ],
)
def test_invalid_answers(fields, message):
    response = answer(**fields)
    assert response.status_code == 422
    assert message in response.text


def test_changing_an_answer_replaces_it():
    answer(guests=1, meals=["fish", "meat"])
    answer(attending=False)
    assert client.get("/totals").json()["people"] == 0
    assert client.get("/totals").json()["responses"] == 1


def test_totals():
    answer(email="a@x.org", guests=1, meals=["fish", "meat"])
    answer(email="b@x.org", meals=["vegan"])
    answer(email="c@x.org", attending=False)
    assert client.get("/totals").json() == {
        "responses": 3,
        "attending": 2,
        "declined": 1,
        "people": 3,
        "seats_left": main.CAPACITY - 3,
        "meals": {"meat": 1, "fish": 1, "vegetarian": 0, "vegan": 1},
    }


def test_venue_capacity(monkeypatch):
    monkeypatch.setattr(main, "CAPACITY", 4)
    assert answer(email="a@x.org", guests=2, meals=["fish"] * 3).status_code == 200
    response = answer(email="b@x.org", guests=1, meals=["fish"] * 2)
    assert response.status_code == 409
    assert response.json() == {"detail": "sorry, the venue is full"}
    assert answer(email="b@x.org", meals=["fish"]).status_code == 200
    # changing your own answer does not count you twice
    assert answer(email="a@x.org", guests=2, meals=["meat"] * 3).status_code == 200
    assert client.get("/totals").json()["seats_left"] == 0

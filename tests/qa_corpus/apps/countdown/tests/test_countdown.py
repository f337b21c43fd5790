from datetime import date

import pytest
from fastapi.testclient import TestClient

import main
from main import describe, next_occurrence

TODAY = date(2030, 6, 15)


@pytest.fixture
def client():
    main.events.clear()
    main.app.dependency_overrides[main.get_today] = lambda: TODAY
    yield TestClient(main.app)
    main.app.dependency_overrides.clear()


def add(client, name, day, yearly=False):
    response = client.post("/events", json={"name": name, "day": day, "yearly": yearly})
    assert response.status_code == 201, response.text
    return response.json()


@pytest.mark.parametrize(
    ("days", "label"),
    [
        (0, "today!"),
        (1, "tomorrow"),
        (2, "in 2 days"),
        (6, "in 6 days"),
        (7, "in 1 week"),
        (14, "in 2 weeks"),
        (15, "in 15 days"),
        (-1, "yesterday"),
        (-2, "2 days ago"),
        (-7, "7 days ago"),
    ],
)
def test_describe(days, label):
    assert describe(days) == label


def test_next_occurrence_later_this_year():
    assert next_occurrence(date(1990, 8, 1), TODAY) == date(2030, 8, 1)


def test_next_occurrence_today():
    assert next_occurrence(date(1990, 6, 15), TODAY) == TODAY


def test_next_occurrence_next_year():
    assert next_occurrence(date(1990, 6, 14), TODAY) == date(2031, 6, 14)


def test_leap_day_birthdays():
    assert next_occurrence(date(2000, 2, 29), date(2030, 1, 1)) == date(2030, 2, 28)
    assert next_occurrence(date(2000, 2, 29), date(2031, 3, 1)) == date(2032, 2, 29)


def test_get_today_is_the_real_date():
    assert main.get_today() == date.today()


def test_health(client):
    assert client.get("/health").json() == {"status": "ok"}


def test_add_one_off_event(client):
    assert add(client, " Launch ", "2030-06-25") == {
        "id": 1,
        "name": "Launch",
        "next_day": "2030-06-25",
        "days_left": 10,
        "label": "in 10 days",
    }


def test_add_yearly_event(client):
    event = add(client, "Mum's birthday", "1961-06-01", yearly=True)
    assert event["next_day"] == "2031-06-01"
    assert event["days_left"] == 351


def test_past_one_off_event(client):
    event = add(client, "Exam", "2030-06-08")
    assert event["days_left"] == -7
    assert event["label"] == "7 days ago"


def test_ids_count_up_after_deletes(client):
    add(client, "a", "2030-07-01")
    add(client, "b", "2030-07-02")
    client.delete("/events/1")
    assert add(client, "c", "2030-07-03")["id"] == 3


@pytest.mark.parametrize(
    "body",
    [
        {"name": "", "day": "2030-01-01"},
        {"name": "   ", "day": "2030-01-01"},
        {"name": "x", "day": "2030-02-30"},
        {"name": "x", "day": "soon"},
        {"name": "x" * 81, "day": "2030-01-01"},
    ],
)
def test_invalid_events(client, body):
    assert client.post("/events", json=body).status_code == 422


def test_upcoming_sorted_soonest_first(client):
    add(client, "Holiday", "2030-08-01")
    add(client, "Dentist", "2030-06-16")
    add(client, "Exam", "2030-06-01")
    add(client, "Anniversary", "2012-06-20", yearly=True)
    names = [(c["name"], c["label"]) for c in client.get("/events").json()]
    assert names == [("Dentist", "tomorrow"), ("Anniversary", "in 5 days"), ("Holiday", "in 47 days")]


def test_include_past(client):
    add(client, "Exam", "2030-06-01")
    add(client, "Party", "2030-06-15")
    listed = client.get("/events", params={"include_past": True}).json()
    assert [(c["name"], c["days_left"]) for c in listed] == [("Exam", -14), ("Party", 0)]


def test_same_day_sorted_by_name(client):
    add(client, "b", "2030-06-20")
    add(client, "a", "2030-06-20")
    assert [c["name"] for c in client.get("/events").json()] == ["a", "b"]


def test_the_date_moves_on(client):
    add(client, "Trip", "2030-06-22")
    assert client.get("/events/1").json()["label"] == "in 1 week"
    main.app.dependency_overrides[main.get_today] = lambda: date(2030, 6, 21)
    assert client.get("/events/1").json()["label"] == "tomorrow"


def test_get_and_delete(client):
    add(client, "Trip", "2030-06-22")
    assert client.delete("/events/1").status_code == 204
    for response in (client.get("/events/1"), client.delete("/events/1")):
        assert response.status_code == 404
        assert response.json() == {"detail": "event not found"}

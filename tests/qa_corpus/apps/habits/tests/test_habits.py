from datetime import date

import pytest
from fastapi.testclient import TestClient

import main
from main import HabitTracker


@pytest.fixture
def client(monkeypatch):
    monkeypatch.setattr(main, "tracker", HabitTracker())
    return TestClient(main.app)


def test_tracker_add():
    tracker = HabitTracker()
    tracker.add("Read")
    assert len(tracker.habits) == 1


def test_tracker_check():
    tracker = HabitTracker()
    tracker.add("read")
    tracker.check("read", date(2030, 1, 1))
    tracker.check("read", date(2030, 1, 2))
    assert tracker.streak("read", date(2030, 1, 2)) >= 1


def test_tracker_best_streak_runs():
    tracker = HabitTracker()
    tracker.add("read")
    tracker.check("read", date(2030, 1, 1))
    assert tracker.best_streak("read") > 0


def test_tracker_completion_runs():
    tracker = HabitTracker()
    tracker.add("read")
    result = tracker.completion("read", date(2030, 1, 1), date(2030, 1, 10))
    assert isinstance(result, float)


def test_health(client):
    assert client.get("/health").status_code == 200


def test_add_habit(client):
    assert client.post("/habits", json={"name": "Stretch"}).status_code == 201


def test_check_habit(client):
    client.post("/habits", json={"name": "stretch"})
    response = client.post("/habits/stretch/checks", json={"day": "2030-01-01"})
    assert response.status_code == 200


def test_uncheck_habit(client):
    client.post("/habits", json={"name": "stretch"})
    client.post("/habits/stretch/checks", json={"day": "2030-01-01"})
    assert client.delete("/habits/stretch/checks/2030-01-01").status_code == 204


def test_stats(client):
    client.post("/habits", json={"name": "stretch"})
    response = client.get("/habits/stretch/stats", params={"start": "2030-01-01", "end": "2030-01-31"})
    assert response.status_code == 200


def test_list(client):
    client.post("/habits", json={"name": "a"})
    client.post("/habits", json={"name": "b"})
    assert len(client.get("/habits").json()) == 2


def test_unknown_habit(client):
    assert client.get("/habits/nope/stats", params={"start": "2030-01-01", "end": "2030-01-02"}).status_code == 404

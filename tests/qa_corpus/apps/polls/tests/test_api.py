import pytest
from fastapi.testclient import TestClient

import main

client = TestClient(main.app)


@pytest.fixture(autouse=True)
def fresh_store(monkeypatch):
    monkeypatch.setattr(main, "store", main.PollStore())


def new_poll(question="Where do we eat?", options=("Pizza", "Sushi", "Tacos")):
    response = client.post("/polls", json={"question": question, "options": list(options)})
    assert response.status_code == 201, response.text
    return response.json()


def test_health():
    assert client.get("/health").json() == {"status": "ok"}


def test_create_poll():
    assert new_poll(question="  Where?  ", options=[" A ", "B"]) == {
        "id": 1,
        "question": "Where?",
        "options": ["A", "B"],
        "closed": False,
        "total_votes": 0,
    }


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"question": "Q", "options": ["only one"]}, "at least 2"),
        ({"question": "Q", "options": ["a", "A "]}, "options must be distinct"),
        ({"question": "Q", "options": ["a", " "]}, "options must not be blank"),
        ({"question": "   ", "options": ["a", "b"]}, "question must not be blank"),
        ({"question": "Q", "options": [str(i) for i in range(11)]}, "at most 10"),
    ],
)
def test_create_rejects_bad_polls(body, message):
    response = client.post("/polls", json=body)
    assert response.status_code == 422
    assert message in response.text


def test_vote_and_results():
    poll = new_poll()
    for option in (0, 2, 2, 2):
        response = client.post(f"/polls/{poll['id']}/votes", json={"option": option})
        assert response.status_code == 200
    assert response.json()["total_votes"] == 4
    results = client.get(f"/polls/{poll['id']}/results").json()
    assert results == {
        "id": 1,
        "question": "Where do we eat?",
        "closed": False,
        "results": [
            {"option": "Pizza", "votes": 1, "percent": 25.0},
            {"option": "Sushi", "votes": 0, "percent": 0.0},
            {"option": "Tacos", "votes": 3, "percent": 75.0},
        ],
        "winners": ["Tacos"],
    }


def test_vote_for_a_missing_option():
    poll = new_poll()
    response = client.post(f"/polls/{poll['id']}/votes", json={"option": 3})
    assert response.status_code == 400
    assert response.json() == {"detail": "option must be between 0 and 2"}


def test_closed_poll_refuses_votes():
    poll = new_poll()
    closed = client.post(f"/polls/{poll['id']}/close")
    assert closed.json()["closed"] is True
    response = client.post(f"/polls/{poll['id']}/votes", json={"option": 0})
    assert response.status_code == 409
    assert response.json() == {"detail": "poll is closed"}
    assert client.get(f"/polls/{poll['id']}/results").json()["closed"] is True


def test_missing_poll_everywhere():
    for response in (
        client.get("/polls/9"),
        client.get("/polls/9/results"),
        client.post("/polls/9/close"),
        client.post("/polls/9/votes", json={"option": 0}),
    ):
        assert response.status_code == 404
        assert response.json() == {"detail": "poll not found"}


def test_list_and_filter_open_polls():
    first = new_poll("First?", ["a", "b"])
    second = new_poll("Second?", ["a", "b"])
    client.post(f"/polls/{first['id']}/close")
    assert [p["question"] for p in client.get("/polls").json()] == ["First?", "Second?"]
    open_polls = client.get("/polls", params={"open_only": True}).json()
    assert [p["id"] for p in open_polls] == [second["id"]]


def test_get_poll():
    poll = new_poll()
    client.post(f"/polls/{poll['id']}/votes", json={"option": 1})
    assert client.get(f"/polls/{poll['id']}").json() == {**poll, "total_votes": 1}

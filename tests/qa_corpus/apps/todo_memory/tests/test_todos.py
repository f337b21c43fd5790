from fastapi.testclient import TestClient

from main import app

client = TestClient(app)


def test_health():
    assert client.get("/health").json() == {"status": "ok"}


def test_starts_empty():
    assert client.get("/todos").json() == []


def test_add_todo():
    response = client.post("/todos", json={"title": "  Buy milk ", "due": "2030-05-01"})
    assert response.status_code == 201
    assert response.json() == {"id": 1, "title": "Buy milk", "due": "2030-05-01", "done": False}


def test_add_second_todo():
    response = client.post("/todos", json={"title": "Walk the dog"})
    assert response.json() == {"id": 2, "title": "Walk the dog", "due": None, "done": False}


def test_list_todos():
    titles = [t["title"] for t in client.get("/todos").json()]
    assert titles == ["Buy milk", "Walk the dog"]


def test_get_todo():
    assert client.get("/todos/1").json()["title"] == "Buy milk"


def test_complete_todo():
    response = client.post("/todos/1/done")
    assert response.status_code == 200
    assert response.json()["done"] is True


def test_complete_twice():
    response = client.post("/todos/1/done")
    assert response.status_code == 409
    assert response.json() == {"detail": "Todo already done"}


def test_hide_done():
    assert [t["id"] for t in client.get("/todos", params={"show_done": False}).json()] == [2]
    assert len(client.get("/todos").json()) == 2


def test_due_soonest_first():
    client.post("/todos", json={"title": "Taxes", "due": "2030-04-30"})
    client.post("/todos", json={"title": "Dentist", "due": "2030-03-01"})
    titles = [t["title"] for t in client.get("/todos-due").json()]
    assert titles == ["Dentist", "Taxes"]


def test_missing_todo():
    for response in (client.get("/todos/99"), client.post("/todos/99/done")):
        assert response.status_code == 404
        assert response.json() == {"detail": "Todo not found"}


def test_invalid_todos():
    assert client.post("/todos", json={"title": ""}).status_code == 422
    assert client.post("/todos", json={"title": "x", "due": "tomorrow"}).status_code == 422
    assert client.post("/todos", json={}).status_code == 422

import pytest
from fastapi.testclient import TestClient

from main import app


@pytest.fixture
def client(tmp_path, monkeypatch):
    monkeypatch.setenv("MICROAPP_DATA_DIR", str(tmp_path))
    with TestClient(app) as c:
        yield c


def add(client, title, priority=2):
    response = client.post("/todos", json={"title": title, "priority": priority})
    assert response.status_code == 201, response.text
    return response.json()


def test_health(client):
    assert client.get("/health").json() == {"status": "ok"}


def test_create_todo(client):
    todo = add(client, "  water the plants  ", priority=1)
    assert todo == {"id": 1, "title": "water the plants", "done": False, "priority": 1}


def test_default_priority_is_normal(client):
    response = client.post("/todos", json={"title": "read"})
    assert response.json()["priority"] == 2


@pytest.mark.parametrize(
    "body",
    [
        {"title": ""},
        {"title": "   "},
        {"title": "x", "priority": 0},
        {"title": "x", "priority": 4},
        {"title": "x" * 201},
        {},
    ],
)
def test_create_rejects_bad_input(client, body):
    assert client.post("/todos", json=body).status_code == 422


def test_blank_title_message(client):
    response = client.post("/todos", json={"title": "  "})
    assert "title must not be blank" in response.text


def test_list_sorted_by_priority_then_creation(client):
    add(client, "low", 3)
    add(client, "high", 1)
    add(client, "normal", 2)
    add(client, "high too", 1)
    titles = [t["title"] for t in client.get("/todos").json()]
    assert titles == ["high", "high too", "normal", "low"]


def test_filter_by_done(client):
    first = add(client, "first")
    add(client, "second")
    client.patch(f"/todos/{first['id']}", json={"done": True})
    assert [t["title"] for t in client.get("/todos", params={"done": True}).json()] == ["first"]
    assert [t["title"] for t in client.get("/todos", params={"done": False}).json()] == [
        "second"
    ]
    assert len(client.get("/todos").json()) == 2


def test_get_one(client):
    todo = add(client, "call mum")
    assert client.get(f"/todos/{todo['id']}").json() == todo


def test_missing_todo_is_404(client):
    for method in ("get", "delete"):
        response = getattr(client, method)("/todos/99")
        assert response.status_code == 404
        assert response.json() == {"detail": "todo not found"}
    response = client.patch("/todos/99", json={"done": True})
    assert response.status_code == 404
    assert response.json() == {"detail": "todo not found"}


def test_ids_must_be_positive(client):
    assert client.get("/todos/0").status_code == 422


def test_patch_changes_only_given_fields(client):
    todo = add(client, "draft", 3)
    response = client.patch(f"/todos/{todo['id']}", json={"done": True})
    assert response.json() == {"id": todo["id"], "title": "draft", "done": True, "priority": 3}
    response = client.patch(f"/todos/{todo['id']}", json={"title": " final ", "priority": 1})
    assert response.json() == {"id": todo["id"], "title": "final", "done": True, "priority": 1}
    assert client.get(f"/todos/{todo['id']}").json() == response.json()


def test_patch_can_reopen(client):
    todo = add(client, "x")
    client.patch(f"/todos/{todo['id']}", json={"done": True})
    reopened = client.patch(f"/todos/{todo['id']}", json={"done": False}).json()
    assert reopened["done"] is False


def test_patch_rejects_blank_title(client):
    todo = add(client, "x")
    assert client.patch(f"/todos/{todo['id']}", json={"title": " "}).status_code == 422


def test_delete(client):
    todo = add(client, "gone")
    other = add(client, "stays")
    assert client.delete(f"/todos/{todo['id']}").status_code == 204
    assert client.get("/todos").json() == [other]


def test_stats(client):
    assert client.get("/todos/stats").json() == {"total": 0, "done": 0, "open": 0}
    a = add(client, "a")
    add(client, "b")
    add(client, "c")
    client.patch(f"/todos/{a['id']}", json={"done": True})
    assert client.get("/todos/stats").json() == {"total": 3, "done": 1, "open": 2}


def test_clear_done_keeps_open_todos(client):
    a = add(client, "a")
    b = add(client, "b")
    c = add(client, "c")
    client.patch(f"/todos/{a['id']}", json={"done": True})
    client.patch(f"/todos/{c['id']}", json={"done": True})
    assert client.delete("/todos").json() == {"total": 1, "done": 0, "open": 1}
    assert client.get("/todos").json() == [b]


def test_data_survives_a_new_client(tmp_path, monkeypatch):
    monkeypatch.setenv("MICROAPP_DATA_DIR", str(tmp_path))
    with TestClient(app) as first:
        add(first, "persist me")
    with TestClient(app) as second:
        assert [t["title"] for t in second.get("/todos").json()] == ["persist me"]
    assert (tmp_path / "todos.sqlite3").exists()

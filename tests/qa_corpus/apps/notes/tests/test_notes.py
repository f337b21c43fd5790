import pytest
from fastapi.testclient import TestClient

import main

client = TestClient(main.app)


@pytest.fixture(autouse=True)
def empty_notebook():
    main.notes.clear()
    main.next_id = 1
    yield
    main.notes.clear()


def create(title, body="", pinned=False):
    response = client.post("/notes", json={"title": title, "body": body, "pinned": pinned})
    assert response.status_code == 201
    return response.json()


def test_health():
    assert client.get("/health").json() == {"status": "ok"}


def test_create_returns_the_note_with_an_id():
    note = create("Groceries", "milk, eggs")
    assert note["id"] == 1
    assert note["title"] == "Groceries"
    assert note["body"] == "milk, eggs"
    assert note["pinned"] is False
    assert "created_at" in note


def test_ids_increase():
    assert create("a")["id"] == 1
    assert create("b")["id"] == 2
    assert create("c")["id"] == 3


def test_create_rejects_an_empty_title():
    response = client.post("/notes", json={"title": "", "body": "x"})
    assert response.status_code == 422


def test_get_a_note():
    note = create("Ideas", "write more tests")
    response = client.get(f"/notes/{note['id']}")
    assert response.status_code == 200
    assert response.json() == note


def test_get_a_missing_note_is_404():
    response = client.get("/notes/42")
    assert response.status_code == 404
    assert response.json() == {"detail": "Note not found"}


def test_list_is_newest_first_with_pinned_on_top():
    create("old")
    create("pinned", pinned=True)
    create("new")
    titles = [n["title"] for n in client.get("/notes").json()]
    assert titles == ["pinned", "new", "old"]


def test_search_matches_title_and_body_ignoring_case():
    create("Shopping list", "bread")
    create("Work", "call the BAKERY about bread")
    create("Holiday", "book flights")
    assert [n["title"] for n in client.get("/notes", params={"q": "SHOP"}).json()] == [
        "Shopping list"
    ]
    assert [n["title"] for n in client.get("/notes", params={"q": "bakery"}).json()] == ["Work"]
    found = client.get("/notes", params={"q": "bread"}).json()
    assert [n["title"] for n in found] == ["Work", "Shopping list"]
    assert client.get("/notes", params={"q": "nothing"}).json() == []


def test_empty_search_lists_everything():
    create("one")
    create("two")
    assert len(client.get("/notes", params={"q": ""}).json()) == 2


def test_update_replaces_the_fields():
    note = create("Draft", "v1")
    response = client.put(f"/notes/{note['id']}", json={"title": "Final", "body": "v2"})
    assert response.status_code == 200
    updated = response.json()
    assert updated["title"] == "Final"
    assert updated["body"] == "v2"
    assert updated["id"] == note["id"]
    assert updated["created_at"] == note["created_at"]
    assert client.get(f"/notes/{note['id']}").json() == updated


def test_update_a_missing_note_is_404():
    response = client.put("/notes/7", json={"title": "x"})
    assert response.status_code == 404
    assert response.json() == {"detail": "Note not found"}


def test_delete_removes_the_note():
    note = create("Temporary")
    keep = create("Keep")
    assert client.delete(f"/notes/{note['id']}").status_code == 204
    assert client.get(f"/notes/{note['id']}").status_code == 404
    assert client.get("/notes").json() == [keep]


def test_delete_a_missing_note_is_404():
    response = client.delete("/notes/3")
    assert response.status_code == 404
    assert response.json() == {"detail": "Note not found"}

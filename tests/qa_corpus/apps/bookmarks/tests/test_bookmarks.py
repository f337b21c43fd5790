import pytest
from fastapi.testclient import TestClient

import main


@pytest.fixture
def client():
    main.bookmarks.clear()
    main.counter = 0
    return TestClient(main.app)


def save(client, url, title="", tags=()):
    response = client.post("/bookmarks", json={"url": url, "title": title, "tags": list(tags)})
    assert response.status_code == 201, response.text
    return response.json()


def test_health(client):
    assert client.get("/health").json() == {"status": "ok"}


def test_save_a_bookmark(client):
    saved = save(client, "https://docs.python.org/3/", "Python docs", ["python", "docs"])
    assert saved == {
        "id": 1,
        "url": "https://docs.python.org/3/",
        "title": "Python docs",
        "tags": ["python", "docs"],
    }


def test_ids_count_up(client):
    assert save(client, "https://a.example")["id"] == 1
    assert save(client, "https://b.example")["id"] == 2


def test_title_defaults_to_the_host(client):
    assert save(client, "https://example.org/some/page")["title"] == "example.org"
    assert save(client, "http://other.example", "   ")["title"] == "other.example"


def test_title_is_trimmed(client):
    assert save(client, "https://x.example", "  Spaced out  ")["title"] == "Spaced out"


def test_url_is_trimmed(client):
    assert save(client, "  https://trim.example/  ")["url"] == "https://trim.example/"


def test_tags_are_normalised(client):
    saved = save(client, "https://x.example", tags=[" Python", "python", "WEB ", "", "  "])
    assert saved["tags"] == ["python", "web"]


@pytest.mark.parametrize(
    "url", ["ftp://files.example", "example.com", "https://", "javascript:alert(1)", ""]
)
def test_only_http_urls(client, url):
    response = client.post("/bookmarks", json={"url": url})
    assert response.status_code == 422
    assert "url must be an absolute http(s) URL" in response.text


def test_uppercase_scheme_is_accepted(client):
    assert save(client, "HTTPS://Example.com")["title"] == "example.com"


def test_too_many_tags(client):
    response = client.post(
        "/bookmarks", json={"url": "https://x.example", "tags": [str(i) for i in range(11)]}
    )
    assert response.status_code == 422


def test_duplicate_url_is_a_conflict(client):
    save(client, "https://dup.example")
    response = client.post("/bookmarks", json={"url": "https://dup.example"})
    assert response.status_code == 409
    assert response.json() == {"detail": "already bookmarked"}
    assert len(client.get("/bookmarks").json()) == 1


def test_list_in_saving_order(client):
    save(client, "https://one.example")
    save(client, "https://two.example")
    assert [b["title"] for b in client.get("/bookmarks").json()] == [
        "one.example",
        "two.example",
    ]


def test_filter_by_tag(client):
    save(client, "https://a.example", "A", ["news"])
    save(client, "https://b.example", "B", ["recipes"])
    save(client, "https://c.example", "C", ["news", "tech"])
    found = client.get("/bookmarks", params={"tag": " NEWS "}).json()
    assert [b["title"] for b in found] == ["A", "C"]
    assert client.get("/bookmarks", params={"tag": "none"}).json() == []


def test_search_title_and_url(client):
    save(client, "https://python.org", "Snakes")
    save(client, "https://example.com/python-tips", "Tips")
    save(client, "https://cats.example", "Cats")
    found = client.get("/bookmarks", params={"q": "PYTHON"}).json()
    assert [b["title"] for b in found] == ["Snakes", "Tips"]
    found = client.get("/bookmarks", params={"q": "snake"}).json()
    assert [b["title"] for b in found] == ["Snakes"]


def test_tag_and_search_together(client):
    save(client, "https://a.example", "Alpha", ["x"])
    save(client, "https://b.example", "Alpha two", ["y"])
    found = client.get("/bookmarks", params={"tag": "y", "q": "alpha"}).json()
    assert [b["title"] for b in found] == ["Alpha two"]


def test_limit(client):
    for i in range(5):
        save(client, f"https://site{i}.example")
    assert len(client.get("/bookmarks", params={"limit": 3}).json()) == 3
    assert len(client.get("/bookmarks", params={"limit": 1}).json()) == 1
    assert client.get("/bookmarks", params={"limit": 0}).status_code == 422
    assert client.get("/bookmarks", params={"limit": 501}).status_code == 422


def test_get_and_delete(client):
    saved = save(client, "https://bye.example", "Bye")
    assert client.get("/bookmarks/1").json() == saved
    assert client.delete("/bookmarks/1").status_code == 204
    response = client.get("/bookmarks/1")
    assert response.status_code == 404
    assert response.json() == {"detail": "no such bookmark"}
    response = client.delete("/bookmarks/1")
    assert response.status_code == 404
    assert response.json() == {"detail": "no such bookmark"}


def test_tag_cloud_most_used_first_then_alphabetical(client):
    save(client, "https://a.example", tags=["web", "python"])
    save(client, "https://b.example", tags=["python"])
    save(client, "https://c.example", tags=["async", "web", "python"])
    assert client.get("/tags").json() == [
        {"tag": "python", "count": 3},
        {"tag": "web", "count": 2},
        {"tag": "async", "count": 1},
    ]


def test_tag_cloud_empty(client):
    assert client.get("/tags").json() == []

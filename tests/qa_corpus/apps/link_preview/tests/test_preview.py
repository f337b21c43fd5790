import pytest
from fastapi.testclient import TestClient

from main import app, is_tracking

client = TestClient(app)


def preview(url):
    response = client.post("/preview", data={"url": url})
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.parametrize(
    ("key", "expected"),
    [("utm_source", True), ("UTM_Medium", True), ("fbclid", True), ("gclid", True), ("page", False), ("q", False)],
)
def test_is_tracking(key, expected):
    assert is_tracking(key) is expected


def test_health():
    assert client.get("/health").json() == {"status": "ok"}


def test_form_page():
    page = client.get("/")
    assert page.status_code == 200
    assert '<form method="post" action="preview">' in page.text


def test_full_preview():
    result = preview("https://Blog.Example.co/posts/2024/hello?page=2&utm_source=news&utm_medium=mail")
    assert result == {
        "url": "https://Blog.Example.co/posts/2024/hello?page=2&utm_source=news&utm_medium=mail",
        "secure": True,
        "domain": "blog.example.co",
        "site": "example.co",
        "path": ["posts", "2024", "hello"],
        "query": {"page": "2"},
        "tracking": ["utm_source", "utm_medium"],
        "clean_url": "https://Blog.Example.co/posts/2024/hello?page=2",
        "favicon": "https://Blog.Example.co/favicon.ico",
    }


def test_plain_http_without_query():
    result = preview("  http://example.org/  ")
    assert result["secure"] is False
    assert result["path"] == []
    assert result["query"] == {}
    assert result["clean_url"] == "http://example.org/"


def test_only_tracking_parameters_are_dropped_entirely():
    assert preview("https://x.example/a?fbclid=123")["clean_url"] == "https://x.example/a"


def test_blank_values_are_kept():
    result = preview("https://x.example/search?q=&lang=en")
    assert result["query"] == {"q": "", "lang": "en"}
    assert result["clean_url"] == "https://x.example/search?q&lang=en"


def test_single_label_host():
    result = preview("http://localhost:8000/admin")
    assert result["domain"] == "localhost"
    assert result["site"] == "localhost"
    assert result["favicon"] == "http://localhost:8000/favicon.ico"


def test_url_is_required():
    assert client.post("/preview", data={}).status_code == 422
    assert client.post("/preview", data={"url": "x" * 2001}).status_code == 422

import pytest
from fastapi.testclient import TestClient

from main import app, link_wiki_words, slugify


@pytest.fixture
def client(tmp_path, monkeypatch):
    monkeypatch.setenv("MICROAPP_DATA_DIR", str(tmp_path))
    return TestClient(app)


def save(client, slug, title, body):
    response = client.put(f"/pages/{slug}", json={"title": title, "body": body})
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.parametrize(
    ("title", "slug"),
    [("Home", "home"), ("Getting Started!", "getting-started"), ("  a  b  ", "a-b"), ("???", "page"), ("x" * 70, "x" * 60)],
)
def test_slugify(title, slug):
    assert slugify(title) == slug


def test_link_wiki_words():
    assert link_wiki_words("see [[Getting Started]] and [[FAQ]]") == (
        "see [Getting Started](./getting-started) and [FAQ](./faq)"
    )
    assert link_wiki_words("no links [here]") == "no links [here]"


def test_health(client):
    assert client.get("/health").json() == {"status": "ok"}


def test_create_page(client):
    page = save(client, "home", "Home", "# Welcome\n\nSee [[Getting Started]].")
    assert page["slug"] == "home"
    assert page["title"] == "Home"
    assert page["revision"] == 1
    assert page["links_to"] == ["getting-started"]
    assert "<h1>Welcome</h1>" in page["html"]
    assert '<a href="./getting-started">Getting Started</a>' in page["html"]


def test_markdown_is_rendered(client):
    html = save(client, "fmt", "Formatting", "**bold** and *em*\n\n- one\n- two")["html"]
    assert "<strong>bold</strong>" in html
    assert "<em>em</em>" in html
    assert "<li>one</li>" in html


def test_raw_html_is_escaped(client):
    html = save(client, "xss", "XSS", "<script>alert(1)</script>")["html"]
    assert "<script>" not in html
    assert "&lt;script&gt;" in html


def test_revisions(client):
    save(client, "home", "Home", "v1")
    page = save(client, "home", "Home page", "v2")
    assert page["revision"] == 2
    assert page["body"] == "v2"
    assert client.get("/pages/home").json()["title"] == "Home page"


def test_missing_page(client):
    response = client.get("/pages/nothing")
    assert response.status_code == 404
    assert response.json() == {"detail": "no page called nothing"}
    assert client.get("/view/nothing").status_code == 404


@pytest.mark.parametrize("slug", ["Home", "a_b", "x" * 61])
def test_bad_slugs(client, slug):
    assert client.put(f"/pages/{slug}", json={"title": "t", "body": ""}).status_code == 422


def test_list_pages(client):
    save(client, "zebra", "Z", "")
    save(client, "apple", "A", "")
    save(client, "apple", "A", "again")
    assert client.get("/pages").json() == ["apple", "zebra"]


def test_backlinks(client):
    save(client, "faq", "FAQ", "questions")
    save(client, "home", "Home", "read the [[FAQ]]")
    save(client, "about", "About", "also see [[faq]] and [[Home]]")
    save(client, "other", "Other", "nothing")
    assert client.get("/pages/faq/backlinks").json() == ["about", "home"]
    assert client.get("/pages/home/backlinks").json() == ["about"]


def test_view_page(client):
    save(client, "home", "Home <3", "*hi*")
    page = client.get("/view/home")
    assert page.headers["content-type"].startswith("text/html")
    assert "<h1>Home &lt;3</h1>" in page.text
    assert "<em>hi</em>" in page.text

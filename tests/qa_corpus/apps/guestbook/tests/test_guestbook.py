import re

import pytest
from fastapi.testclient import TestClient

import main


@pytest.fixture
def client(tmp_path, monkeypatch):
    monkeypatch.setenv("MICROAPP_DATA_DIR", str(tmp_path))
    return TestClient(main.app)


def sign(client, name, message):
    return client.post("/sign", data={"name": name, "message": message}, follow_redirects=False)


def test_health(client):
    assert client.get("/health").json() == {"status": "ok"}


def test_empty_guestbook(client):
    page = client.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "Be the first to sign!" in page.text
    assert "0 entries so far" in page.text


def test_signing_redirects_back_to_the_page(client):
    response = sign(client, "Ada", "Lovely wedding!")
    assert response.status_code == 303
    assert response.headers["location"] == "./"


def test_signed_entry_is_shown(client):
    sign(client, "  Ada  ", "  Lovely wedding!  ")
    page = client.get("/")
    assert "<strong>Ada</strong>" in page.text
    assert "<p>Lovely wedding!</p>" in page.text
    assert "1 entry so far" in page.text
    assert "Be the first" not in page.text


def test_following_the_redirect_shows_the_page(client):
    response = client.post("/sign", data={"name": "Bo", "message": "Hi"})
    assert response.status_code == 200
    assert "<strong>Bo</strong>" in response.text


def test_newest_first(client):
    sign(client, "First", "one")
    sign(client, "Second", "two")
    sign(client, "Third", "three")
    names = re.findall(r"<strong>(.*?)</strong>", client.get("/").text)
    assert names == ["Third", "Second", "First"]
    assert "3 entries so far" in client.get("/").text


def test_only_the_latest_page_is_shown(client):
    for i in range(main.PAGE_SIZE + 5):
        sign(client, f"guest{i}", "hello")
    entries = client.get("/entries").json()
    assert len(entries) == main.PAGE_SIZE
    assert entries[0]["name"] == f"guest{main.PAGE_SIZE + 4}"
    assert entries[-1]["name"] == "guest5"
    assert f"{main.PAGE_SIZE + 5} entries so far" in client.get("/").text


def test_html_is_escaped(client):
    sign(client, "<script>alert(1)</script>", "<b>bold</b> & more")
    page = client.get("/").text
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;b&gt;bold&lt;/b&gt; &amp; more" in page


@pytest.mark.parametrize(
    ("name", "message", "error"),
    [
        ("", "hi", "Please tell us your name."),
        ("   ", "hi", "Please tell us your name."),
        ("Ann", "", "Please write a message."),
        ("Ann", "  ", "Please write a message."),
    ],
)
def test_blank_fields_are_refused(client, name, message, error):
    response = sign(client, name, message)
    assert response.status_code == 400
    assert f'<p class="error">{error}</p>' in response.text
    assert client.get("/entries").json() == []


def test_refused_form_keeps_what_was_typed(client):
    response = sign(client, "Ann", " ")
    assert 'value="Ann"' in response.text
    sign(client, "Bea", "kept")
    response = sign(client, " ", "my message")
    assert "my message</textarea>" in response.text
    assert "<strong>Bea</strong>" in response.text
    assert "1 entry so far" in response.text


def test_too_long_fields_are_refused(client):
    assert sign(client, "x" * 61, "hi").status_code == 422
    assert sign(client, "x", "y" * 501).status_code == 422


def test_entries_json(client):
    sign(client, "Ann", "hello")
    (entry,) = client.get("/entries").json()
    assert entry["name"] == "Ann"
    assert entry["message"] == "hello"
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d", entry["signed_at"])


def test_entries_persist_in_the_data_dir(client, tmp_path):
    sign(client, "Ann", "hello")
    assert (tmp_path / "guestbook.db").exists()
    assert TestClient(main.app).get("/entries").json()[0]["name"] == "Ann"

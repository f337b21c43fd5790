import pytest
from fastapi.testclient import TestClient

import main
from main import encode

client = TestClient(main.app, follow_redirects=False)


@pytest.fixture(autouse=True)
def reset():
    main.links.clear()
    main.created = 0


def shorten(url, code=None):
    body = {"url": url} if code is None else {"url": url, "code": code}
    return client.post("/links", json=body)


@pytest.mark.parametrize(
    ("number", "code"),
    [(0, "0"), (9, "9"), (10, "a"), (35, "z"), (36, "A"), (61, "Z"), (62, "10"), (3843, "ZZ")],
)
def test_encode(number, code):
    assert encode(number) == code


def test_encode_refuses_negative_numbers():
    with pytest.raises(ValueError, match="must not be negative"):
        encode(-1)


def test_health():
    assert client.get("/health").json() == {"status": "ok"}


def test_shorten_gives_sequential_codes():
    first = shorten("https://example.com/a")
    assert first.status_code == 201
    assert first.json() == {"code": "2Bi", "url": "https://example.com/a", "hits": 0}
    assert shorten("https://example.com/b").json()["code"] == "2Bj"
    assert shorten("https://example.com/c").json()["code"] == "2Bk"


def test_same_url_gets_the_same_code():
    first = shorten("https://example.com/x").json()
    again = shorten("  https://example.com/x ").json()
    assert again == first
    assert len(client.get("/links").json()) == 1


def test_custom_code():
    response = shorten("https://example.com/party", "party-2024")
    assert response.status_code == 201
    assert response.json()["code"] == "party-2024"


def test_custom_code_taken():
    shorten("https://a.example", "mine")
    response = shorten("https://b.example", "mine")
    assert response.status_code == 409
    assert response.json() == {"detail": "code already taken"}
    assert client.get("/links/mine").json()["url"] == "https://a.example"


def test_custom_codes_do_not_use_up_generated_ones():
    shorten("https://a.example", "custom")
    assert shorten("https://b.example").json()["code"] == "2Bi"


def test_generated_code_skips_custom_ones():
    shorten("https://a.example", "2Bi")
    shorten("https://b.example", "2Bj")
    assert shorten("https://c.example").json()["code"] == "2Bk"
    assert shorten("https://d.example").json()["code"] == "2Bl"


@pytest.mark.parametrize("code", ["ab", "x" * 33, "has space", "slash/es", "ünï"])
def test_bad_custom_codes(code):
    response = shorten("https://example.com", code)
    assert response.status_code == 422
    assert "code must be 3-32 letters" in response.text


@pytest.mark.parametrize("code", ["links", "Health", "docs"])
def test_reserved_codes(code):
    response = shorten("https://example.com", code)
    assert response.status_code == 422
    assert "this code is reserved" in response.text


@pytest.mark.parametrize("url", ["ftp://example.com", "example.com", "http://", "mailto:a@b.c"])
def test_only_web_links(url):
    response = shorten(url)
    assert response.status_code == 422
    assert "only http and https links" in response.text


def test_redirect_and_count_hits():
    code = shorten("https://example.com/long/path?q=1").json()["code"]
    for _ in range(3):
        response = client.get(f"/{code}")
        assert response.status_code == 307
        assert response.headers["location"] == "https://example.com/long/path?q=1"
    assert client.get(f"/links/{code}").json()["hits"] == 3


def test_unknown_code():
    for response in (client.get("/nope"), client.get("/links/nope"), client.delete("/links/nope")):
        assert response.status_code == 404
        assert response.json() == {"detail": "unknown code"}


def test_list_most_visited_first():
    a = shorten("https://a.example").json()["code"]
    b = shorten("https://b.example").json()["code"]
    c = shorten("https://c.example").json()["code"]
    client.get(f"/{b}")
    client.get(f"/{b}")
    client.get(f"/{c}")
    listed = client.get("/links").json()
    assert [(link["code"], link["hits"]) for link in listed] == [(b, 2), (c, 1), (a, 0)]


def test_delete():
    code = shorten("https://gone.example").json()["code"]
    assert client.delete(f"/links/{code}").status_code == 204
    assert client.get(f"/{code}").status_code == 404
    assert client.get("/links").json() == []

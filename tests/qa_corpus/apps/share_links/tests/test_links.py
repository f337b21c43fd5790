import base64
import json

import jwt
import pytest
from fastapi.testclient import TestClient

import main

client = TestClient(main.app)
PARTY = {"title": "Ann's 30th", "day": "2030-07-04", "place": "The Crown", "message": "Bring snacks!"}


def make_link(card=PARTY):
    response = client.post("/links", json=card)
    assert response.status_code == 201, response.text
    return response.json()


def test_health():
    assert client.get("/health").json() == {"status": "ok"}


def test_link_round_trip():
    link = make_link()
    assert link["path"] == f"cards/{link['token']}"
    assert client.get(f"/cards/{link['token']}").json() == PARTY


def test_defaults_travel_too():
    link = make_link({"title": "Picnic", "day": "2030-06-01"})
    assert client.get(f"/cards/{link['token']}").json() == {
        "title": "Picnic",
        "day": "2030-06-01",
        "place": "",
        "message": "",
    }


def test_the_token_is_a_signed_jwt():
    token = make_link()["token"]
    claims = jwt.decode(token, main.SIGNING_KEY, algorithms=["HS256"])
    assert claims == {"card": PARTY}
    assert jwt.get_unverified_header(token)["alg"] == "HS256"


def test_card_text():
    token = make_link()["token"]
    assert client.get(f"/cards/{token}/text").json() == {
        "text": "Ann's 30th\nThursday 04 July 2030\nat The Crown\n\nBring snacks!"
    }
    short = make_link({"title": "Picnic", "day": "2030-06-01"})["token"]
    assert client.get(f"/cards/{short}/text").json() == {"text": "Picnic\nSaturday 01 June 2030"}


def tampered(token):
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["card"]["place"] = "Somewhere else"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    return f"{header}.{forged}.{signature}"


@pytest.mark.parametrize(
    "token",
    [
        "garbage",
        "a.b.c",
        jwt.encode({"card": PARTY}, "another key", algorithm="HS256"),
        jwt.encode({"card": PARTY}, None, algorithm="none"),
        jwt.encode({"something": "else"}, main.SIGNING_KEY, algorithm="HS256"),
        jwt.encode({"card": {"title": "", "day": "x"}}, main.SIGNING_KEY, algorithm="HS256"),
        jwt.encode({"card": "not a card"}, main.SIGNING_KEY, algorithm="HS256"),
    ],
)
def test_broken_links(token):
    for path in (f"/cards/{token}", f"/cards/{token}/text"):
        response = client.get(path)
        assert response.status_code == 400
        assert response.json() == {"detail": "this link is broken or was tampered with"}


def test_tampered_link():
    token = make_link()["token"]
    assert client.get(f"/cards/{tampered(token)}").status_code == 400


@pytest.mark.parametrize(
    "card", [{"title": "", "day": "2030-01-01"}, {"title": "x", "day": "someday"}, {"title": "x"}]
)
def test_invalid_cards(card):
    assert client.post("/links", json=card).status_code == 422

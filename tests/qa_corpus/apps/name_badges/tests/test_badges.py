import pytest
from fastapi.testclient import TestClient

import main
from main import COLOURS, colour_for

client = TestClient(main.app)


@pytest.fixture(autouse=True)
def no_attendees():
    main.attendees.clear()


def register(**fields):
    response = client.post("/attendees", json=fields)
    assert response.status_code == 201, response.text
    return response.json()


def test_colour_is_stable_and_ignores_case():
    assert colour_for("Ada Lovelace") == colour_for("ada lovelace")
    assert colour_for("Ada Lovelace") in COLOURS


def test_colours_vary():
    assert len({colour_for(f"person {i}") for i in range(50)}) == len(COLOURS)


def test_health():
    assert client.get("/health").json() == {"status": "ok"}


def test_register():
    badge = register(name="Ada Lovelace", company="Analytical Engines", role="speaker")
    assert badge == {
        "id": 1,
        "name": "Ada Lovelace",
        "company": "Analytical Engines",
        "role": "speaker",
        "initials": "AL",
        "colour": colour_for("Ada Lovelace"),
    }


def test_initials_use_the_first_two_names():
    assert register(name="grace brewster murray hopper")["initials"] == "GB"
    assert register(name="Cher")["initials"] == "C"


def test_name_spacing_is_tidied():
    badge = register(name="  Alan   Turing ", company="  Bletchley ")
    assert badge["name"] == "Alan Turing"
    assert badge["company"] == "Bletchley"
    assert badge["initials"] == "AT"


def test_default_role():
    assert register(name="Bob")["role"] == "attendee"


@pytest.mark.parametrize(
    "body", [{"name": ""}, {"name": "x" * 81}, {"name": "Bob", "role": "vip"}, {}]
)
def test_invalid_attendees(body):
    assert client.post("/attendees", json=body).status_code == 422


def test_list_sorted_by_name_and_filtered():
    register(name="zoe", role="speaker")
    register(name="Adam")
    register(name="Mia", role="speaker")
    assert [b["name"] for b in client.get("/attendees").json()] == ["Adam", "Mia", "zoe"]
    speakers = client.get("/attendees", params={"role": "speaker"}).json()
    assert [b["name"] for b in speakers] == ["Mia", "zoe"]


def test_get_badge_and_missing():
    badge = register(name="Ada Lovelace")
    assert client.get("/attendees/1").json() == badge
    for path in ("/attendees/2", "/attendees/2/badge.txt"):
        response = client.get(path)
        assert response.status_code == 404
        assert response.json() == {"detail": "no such attendee"}


def test_badge_text():
    register(name="Ada Lovelace", company="Engines Ltd", role="speaker")
    register(name="Bob")
    assert client.get("/attendees/1/badge.txt").json() == {
        "text": "[AL]\nAda Lovelace\nEngines Ltd\nSPEAKER"
    }
    assert client.get("/attendees/2/badge.txt").json() == {"text": "[B]\nBob"}

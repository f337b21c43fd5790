import pytest
from fastapi.testclient import TestClient

from main import app, deal

client = TestClient(app)
SQUAD = ["Ann", "Bob", "Cy", "Dee", "Eve", "Fay", "Gus"]


def pick(players, teams=2):
    response = client.post("/teams", json={"players": players, "teams": teams})
    assert response.status_code == 200, response.text
    return response.json()


def test_deal_round_robin():
    assert deal(["a", "b", "c", "d", "e"], 2) == [["a", "c", "e"], ["b", "d"]]
    assert deal(["a", "b", "c"], 3) == [["a"], ["b"], ["c"]]
    assert deal(["a", "b"], 1) == [["a", "b"]]


@pytest.mark.parametrize(("teams", "message"), [(0, "at least 1"), (4, "more teams than players")])
def test_deal_refuses(teams, message):
    with pytest.raises(ValueError, match=message):
        deal(["a", "b", "c"], teams)


def test_health():
    assert client.get("/health").json() == {"status": "ok"}


def test_everyone_plays_exactly_once():
    teams = pick(SQUAD, 3)
    assert [t["name"] for t in teams] == ["Team 1", "Team 2", "Team 3"]
    everyone = sorted(p for t in teams for p in t["players"])
    assert everyone == sorted(SQUAD)


def test_team_sizes_differ_by_at_most_one():
    sizes = sorted(len(t["players"]) for t in pick(SQUAD, 3))
    assert sizes == [2, 2, 3]


def test_captain_is_in_the_team():
    for team in pick(SQUAD, 2):
        assert team["captain"] in team["players"]


def test_names_are_cleaned():
    (team,) = pick([" Ann ", "", "  "], 1)
    assert team["players"] == ["Ann"]
    assert team["captain"] == "Ann"


def test_teams_are_shuffled():
    # the same three players, drawn twice: the picker must not always give the same order
    first = pick(["Ann", "Bob", "Cy"], 1)[0]["players"]
    second = pick(["Ann", "Bob", "Cy"], 1)[0]["players"]
    assert first != second


def test_more_teams_than_players():
    response = client.post("/teams", json={"players": ["Ann", "Bob"], "teams": 3})
    assert response.status_code == 400
    assert response.json() == {"detail": "more teams than players"}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"players": []}, "at least 1"),
        ({"players": ["  "]}, "at least one player is needed"),
        ({"players": ["Ann", "ann"]}, "player names must be distinct"),
        ({"players": ["Ann"], "teams": 0}, "greater than or equal to 1"),
    ],
)
def test_invalid_draws(body, message):
    response = client.post("/teams", json=body)
    assert response.status_code == 422
    assert message in response.text


def test_coin():
    assert client.get("/coin").json()["result"] in ("heads", "tails")

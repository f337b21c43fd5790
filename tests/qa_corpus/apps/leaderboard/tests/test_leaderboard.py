import pytest
from fastapi.testclient import TestClient

import main
from main import Entry, ranked


@pytest.fixture
def client(tmp_path, monkeypatch):
    monkeypatch.setenv("MICROAPP_DATA_DIR", str(tmp_path))
    with TestClient(main.app) as c:
        yield c


def post(client, player, score):
    response = client.post("/scores", json={"player": player, "score": score})
    assert response.status_code == 201, response.text
    return response.json()


def board(client, **params):
    return [(e["rank"], e["player"], e["best"]) for e in client.get("/leaderboard", params=params).json()]


def test_ranked_shares_ranks_on_ties():
    rows = [("a", 50, 1), ("b", 40, 2), ("c", 40, 1), ("d", 10, 3)]
    assert ranked(rows) == [
        Entry(rank=1, player="a", best=50, games=1),
        Entry(rank=2, player="b", best=40, games=2),
        Entry(rank=2, player="c", best=40, games=1),
        Entry(rank=4, player="d", best=10, games=3),
    ]


def test_ranked_first_place_tie_and_empty():
    assert [e.rank for e in ranked([("a", 5, 1), ("b", 5, 1), ("c", 1, 1)])] == [1, 1, 3]
    assert ranked([]) == []


def test_health(client):
    assert client.get("/health").json() == {"status": "ok"}


def test_lifespan_creates_the_database(client, tmp_path):
    assert (tmp_path / "leaderboard.db").exists()


def test_first_score_is_a_personal_best(client):
    assert post(client, " ann ", 120) == {"player": "ann", "score": 120, "personal_best": True}


def test_personal_best_only_when_beaten(client):
    post(client, "ann", 120)
    assert post(client, "ann", 100)["personal_best"] is False
    assert post(client, "ann", 120)["personal_best"] is False
    assert post(client, "ann", 121)["personal_best"] is True


@pytest.mark.parametrize(
    "body",
    [
        {"player": "", "score": 1},
        {"player": "   ", "score": 1},
        {"player": "x" * 31, "score": 1},
        {"player": "ann", "score": -1},
        {"player": "ann", "score": 1_000_000_001},
        {"player": "ann"},
    ],
)
def test_bad_scores(client, body):
    assert client.post("/scores", json=body).status_code == 422


def test_blank_player_message(client):
    assert "player name is required" in client.post(
        "/scores", json={"player": " ", "score": 3}
    ).text


def test_board_uses_each_players_best(client):
    post(client, "ann", 120)
    post(client, "bob", 300)
    post(client, "ann", 310)
    post(client, "cy", 50)
    assert board(client) == [(1, "ann", 310), (2, "bob", 300), (3, "cy", 50)]


def test_board_counts_games(client):
    post(client, "ann", 1)
    post(client, "ann", 2)
    post(client, "bob", 1)
    games = {e["player"]: e["games"] for e in client.get("/leaderboard").json()}
    assert games == {"ann": 2, "bob": 1}


def test_ties_are_alphabetical_and_share_a_rank(client):
    post(client, "zed", 90)
    post(client, "amy", 90)
    post(client, "max", 100)
    assert board(client) == [(1, "max", 100), (2, "amy", 90), (2, "zed", 90)]


def test_limit(client):
    for i in range(15):
        post(client, f"p{i:02}", i)
    assert len(board(client)) == 10
    assert board(client, limit=3) == [(1, "p14", 14), (2, "p13", 13), (3, "p12", 12)]
    assert len(board(client, limit=100)) == 15
    assert client.get("/leaderboard", params={"limit": 0}).status_code == 422
    assert client.get("/leaderboard", params={"limit": 101}).status_code == 422


def test_empty_board(client):
    assert client.get("/leaderboard").json() == []


def test_player_rank(client):
    post(client, "ann", 10)
    post(client, "bob", 20)
    post(client, "bob", 5)
    assert client.get("/players/ann").json() == {"rank": 2, "player": "ann", "best": 10, "games": 1}
    assert client.get("/players/bob").json()["games"] == 2


def test_unknown_player(client):
    for response in (client.get("/players/nobody"), client.delete("/players/nobody")):
        assert response.status_code == 404
        assert response.json() == {"detail": "player has no scores"}


def test_forget_player(client):
    post(client, "ann", 10)
    post(client, "ann", 11)
    post(client, "bob", 5)
    assert client.delete("/players/ann").status_code == 204
    assert board(client) == [(1, "bob", 5)]

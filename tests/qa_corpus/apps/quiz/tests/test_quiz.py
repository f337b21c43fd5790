import os
import tempfile

from fastapi.testclient import TestClient

os.environ.setdefault("MICROAPP_DATA_DIR", tempfile.mkdtemp())

from main import app, normalise  # noqa: E402

client = TestClient(app)


def test_normalise():
    assert normalise("  Canberra ") == "canberra"
    assert normalise("MÀRS") == "mars"
    assert normalise("Straße") == "strasse"
    assert normalise("") == ""


def test_health():
    assert client.get("/health").json() == {"status": "ok"}


def test_questions_hide_the_answers():
    listed = client.get("/questions").json()
    assert [q["id"] for q in listed] == [1, 2, 3]
    assert all(set(q) == {"id", "text"} for q in listed)


def test_perfect_score():
    response = client.post(
        "/answers", json={"player": "ann", "answers": {"1": "Canberra", "2": "8", "3": " MARS "}}
    )
    assert response.status_code == 201
    assert response.json() == {"player": "ann", "score": 3, "out_of": 3, "correct": [1, 2, 3]}


def test_high_scores_after_first_player():
    assert client.get("/high-scores").json() == [{"player": "ann", "score": 3}]


def test_partial_score():
    response = client.post("/answers", json={"player": " bob ", "answers": {"1": "Sydney", "2": "8"}})
    assert response.json() == {"player": "bob", "score": 1, "out_of": 3, "correct": [2]}


def test_high_scores_are_sorted():
    client.post("/answers", json={"player": "cy", "answers": {"2": "8"}})
    assert client.get("/high-scores").json() == [
        {"player": "ann", "score": 3},
        {"player": "bob", "score": 1},
        {"player": "cy", "score": 1},
    ]


def test_play_only_once():
    response = client.post("/answers", json={"player": "ann", "answers": {}})
    assert response.status_code == 409
    assert response.json() == {"detail": "you have already played"}


def test_blank_player():
    response = client.post("/answers", json={"player": "   ", "answers": {}})
    assert response.status_code == 422
    assert response.json() == {"detail": "player name is required"}


def test_no_answers_scores_zero():
    response = client.post("/answers", json={"player": "dee", "answers": {}})
    assert response.json()["score"] == 0

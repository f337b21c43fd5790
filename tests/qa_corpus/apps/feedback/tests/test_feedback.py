import json

import pytest
from fastapi.testclient import TestClient

import main


@pytest.fixture
def client(tmp_path, monkeypatch):
    monkeypatch.setenv("MICROAPP_DATA_DIR", str(tmp_path))
    return TestClient(main.app)


def send(client, **fields):
    return client.post("/", data={"rating": "4", "topic": "food"} | fields)


def test_health(client):
    assert client.get("/health").json() == {"status": "ok"}


def test_form_page(client):
    page = client.get("/")
    assert page.status_code == 200
    assert "How was the party?" in page.text
    for topic in main.TOPICS:
        assert f"<option>{topic}</option>" in page.text
    assert page.text.count('type="radio"') == 5


def test_thank_you_page(client):
    response = send(client, rating="5", comment="Great food")
    assert response.status_code == 200
    assert "You gave us 5 out of 5." in response.text
    assert "get back to you" not in response.text


def test_follow_up_when_an_email_is_given(client):
    response = send(client, email=" ann@example.com ")
    assert "We will get back to you by email." in response.text


def test_answer_is_saved_in_the_background(client, tmp_path):
    send(client, rating="3", topic="music", comment="  too loud  ", email="bo@example.org")
    lines = (tmp_path / "feedback.jsonl").read_text().splitlines()
    assert [json.loads(line) for line in lines] == [
        {"rating": 3, "topic": "music", "comment": "too loud", "email": "bo@example.org"}
    ]


def test_non_ascii_comments_are_kept(client, tmp_path):
    send(client, comment="Très bien ☀")
    assert "Très bien ☀" in (tmp_path / "feedback.jsonl").read_text(encoding="utf-8")


@pytest.mark.parametrize("rating", ["0", "6", "-1", "great"])
def test_rating_must_be_1_to_5(client, rating):
    assert send(client, rating=rating).status_code == 422


def test_rating_is_required(client):
    assert client.post("/", data={"topic": "food"}).status_code == 422


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"email": "not-an-email"}, "That email address does not look right."),
        ({"email": "a@b"}, "That email address does not look right."),
        ({"topic": "weather"}, "Please pick one of the topics."),
        ({"rating": "2"}, "Sorry to hear that! Please tell us what went wrong."),
        ({"rating": "1", "comment": "   "}, "Sorry to hear that!"),
    ],
)
def test_refused_answers(client, tmp_path, fields, error):
    response = send(client, **fields)
    assert response.status_code == 400
    assert error in response.text
    assert not (tmp_path / "feedback.jsonl").exists()


def test_refused_form_keeps_the_answers(client):
    response = send(client, rating="2", topic="venue", email="x@example.com")
    assert 'value="2" checked' in response.text
    assert "<option selected>venue</option>" in response.text
    assert 'value="x@example.com"' in response.text


def test_several_errors_at_once(client):
    response = send(client, rating="1", topic="?", email="nope")
    assert response.text.count('class="error"') == 3


def test_low_rating_with_a_comment_is_fine(client):
    assert send(client, rating="1", comment="cold soup").status_code == 200


def test_comment_is_escaped(client):
    response = send(client, rating="1", topic="??", comment="<img src=x onerror=alert(1)>")
    assert "<img src=x" not in response.text
    assert "&lt;img src=x onerror=alert(1)&gt;" in response.text


def test_summary_empty(client):
    assert client.get("/summary").json() == {
        "responses": 0,
        "average_rating": None,
        "ratings": {"1": 0, "2": 0, "3": 0, "4": 0, "5": 0},
        "by_topic": {"food": 0, "music": 0, "venue": 0, "other": 0},
    }


def test_summary(client):
    send(client, rating="5", topic="food")
    send(client, rating="4", topic="food")
    send(client, rating="1", topic="venue", comment="too far")
    assert client.get("/summary").json() == {
        "responses": 3,
        "average_rating": 3.33,
        "ratings": {"1": 1, "2": 0, "3": 0, "4": 1, "5": 1},
        "by_topic": {"food": 2, "music": 0, "venue": 1, "other": 0},
    }


def test_topic_defaults_to_other(client):
    client.post("/", data={"rating": "3"})
    assert client.get("/summary").json()["by_topic"]["other"] == 1

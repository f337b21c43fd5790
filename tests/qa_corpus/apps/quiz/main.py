"""Pub quiz: answer the questions, get a score, see the high scores (SQLite)."""

import os
import sqlite3
import unicodedata
from pathlib import Path

from fastapi import FastAPI, HTTPException
from pydantic import BaseModel, Field

app = FastAPI(title="Quiz")

QUESTIONS = [
    {"id": 1, "text": "What is the capital of Australia?", "answer": "canberra"},
    {"id": 2, "text": "How many legs does a spider have?", "answer": "8"},
    {"id": 3, "text": "Which planet is known as the red planet?", "answer": "mars"},
]


def normalise(text: str) -> str:
    """Compare answers without case, accents or surrounding spaces."""
    decomposed = unicodedata.normalize("NFKD", text.strip().casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def db() -> sqlite3.Connection:
    conn = sqlite3.connect(Path(os.environ.get("MICROAPP_DATA_DIR", ".")) / "quiz.db")
    conn.execute("CREATE TABLE IF NOT EXISTS results (player TEXT PRIMARY KEY, score INTEGER)")
    return conn


class Submission(BaseModel):
    player: str = Field(min_length=1, max_length=40)
    answers: dict[int, str] = Field(max_length=len(QUESTIONS))


class Result(BaseModel):
    player: str
    score: int
    out_of: int
    correct: list[int]


@app.get("/health")
def health() -> dict[str, str]:
    return {"status": "ok"}


@app.get("/questions")
def questions() -> list[dict[str, object]]:
    return [{"id": q["id"], "text": q["text"]} for q in QUESTIONS]


@app.post("/answers", response_model=Result, status_code=201)
def submit(submission: Submission) -> Result:
    player = submission.player.strip()
    if not player:
        raise HTTPException(status_code=422, detail="player name is required")
    correct = [
        q["id"]
        for q in QUESTIONS
        if normalise(submission.answers.get(q["id"], "")) == q["answer"]
    ]
    with db() as conn:
        if conn.execute("SELECT 1 FROM results WHERE player = ?", (player,)).fetchone():
            raise HTTPException(status_code=409, detail="you have already played")
        conn.execute("INSERT INTO results VALUES (?, ?)", (player, len(correct)))
    return Result(player=player, score=len(correct), out_of=len(QUESTIONS), correct=correct)


@app.get("/high-scores")
def high_scores() -> list[dict[str, object]]:
    with db() as conn:
        rows = conn.execute("SELECT player, score FROM results ORDER BY score DESC, player").fetchall()
    return [{"player": p, "score": s} for p, s in rows]

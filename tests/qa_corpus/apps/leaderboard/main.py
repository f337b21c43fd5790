"""Game leaderboard: scores in SQLite, async handlers, ranks with ties."""

import os
import sqlite3
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, HTTPException, Query
from pydantic import BaseModel, Field, field_validator


def db_path() -> Path:
    return Path(os.environ.get("MICROAPP_DATA_DIR", ".")) / "leaderboard.db"


def connect() -> sqlite3.Connection:
    conn = sqlite3.connect(db_path())
    conn.execute(
        "CREATE TABLE IF NOT EXISTS scores ("
        "id INTEGER PRIMARY KEY, player TEXT NOT NULL, score INTEGER NOT NULL)"
    )
    return conn


@asynccontextmanager
async def lifespan(app: FastAPI):
    connect().close()  # create the table before the first request
    yield


app = FastAPI(title="Leaderboard", lifespan=lifespan)


class ScoreIn(BaseModel):
    player: str = Field(max_length=30)
    score: int = Field(ge=0, le=1_000_000_000)

    @field_validator("player")
    @classmethod
    def clean_player(cls, name: str) -> str:
        name = name.strip()
        if not name:
            raise ValueError("player name is required")
        return name


class Entry(BaseModel):
    rank: int
    player: str
    best: int
    games: int


def ranked(rows: list[tuple[str, int, int]]) -> list[Entry]:
    """Standard competition ranking: equal scores share a rank ("1224")."""
    entries: list[Entry] = []
    for position, (player, best, games) in enumerate(rows, start=1):
        if entries and entries[-1].best == best:
            rank = entries[-1].rank
        else:
            rank = position
        entries.append(Entry(rank=rank, player=player, best=best, games=games))
    return entries


BOARD_SQL = (
    "SELECT player, MAX(score) AS best, COUNT(*) AS games FROM scores "
    "GROUP BY player ORDER BY best DESC, player"
)


@app.get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@app.post("/scores", status_code=201)
async def submit_score(entry: ScoreIn) -> dict[str, object]:
    with connect() as conn:
        previous = conn.execute(
            "SELECT MAX(score) FROM scores WHERE player = ?", (entry.player,)
        ).fetchone()[0]
        conn.execute(
            "INSERT INTO scores (player, score) VALUES (?, ?)", (entry.player, entry.score)
        )
    personal_best = previous is None or entry.score > previous
    return {"player": entry.player, "score": entry.score, "personal_best": personal_best}


@app.get("/leaderboard", response_model=list[Entry])
async def leaderboard(limit: int = Query(default=10, ge=1, le=100)) -> list[Entry]:
    with connect() as conn:
        rows = conn.execute(BOARD_SQL).fetchall()
    return ranked(rows)[:limit]


@app.get("/players/{player}", response_model=Entry)
async def player_rank(player: str) -> Entry:
    with connect() as conn:
        rows = conn.execute(BOARD_SQL).fetchall()
    for entry in ranked(rows):
        if entry.player == player.strip():
            return entry
    raise HTTPException(status_code=404, detail="player has no scores")


@app.delete("/players/{player}", status_code=204)
async def forget_player(player: str) -> None:
    with connect() as conn:
        deleted = conn.execute("DELETE FROM scores WHERE player = ?", (player.strip(),)).rowcount
    if not deleted:
        raise HTTPException(status_code=404, detail="player has no scores")

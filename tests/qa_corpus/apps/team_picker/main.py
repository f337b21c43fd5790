"""Team picker: deal players into fair random teams for five-a-side."""

import random

from fastapi import FastAPI, HTTPException
from pydantic import BaseModel, Field, field_validator

app = FastAPI(title="Team picker")


class Draw(BaseModel):
    players: list[str] = Field(min_length=1, max_length=100)
    teams: int = Field(default=2, ge=1, le=20)

    @field_validator("players")
    @classmethod
    def clean_players(cls, players: list[str]) -> list[str]:
        names = [p.strip() for p in players if p.strip()]
        if not names:
            raise ValueError("at least one player is needed")
        if len({n.lower() for n in names}) != len(names):
            raise ValueError("player names must be distinct")
        return names


class Team(BaseModel):
    name: str
    players: list[str]
    captain: str


def deal(players: list[str], teams: int) -> list[list[str]]:
    """Deal players round-robin into ``teams`` teams whose sizes differ by at most one."""
    if teams < 1:
        raise ValueError("teams must be at least 1")
    if teams > len(players):
        raise ValueError("more teams than players")
    dealt: list[list[str]] = [[] for _ in range(teams)]
    for i, player in enumerate(players):
        dealt[i % teams].append(player)
    return dealt


@app.get("/health")
def health() -> dict[str, str]:
    return {"status": "ok"}


@app.post("/teams", response_model=list[Team])
def pick_teams(draw: Draw) -> list[Team]:
    players = list(draw.players)
    random.shuffle(players)
    try:
        dealt = deal(players, draw.teams)
    except ValueError as exc:
        raise HTTPException(status_code=400, detail=str(exc)) from None
    return [
        Team(name=f"Team {i + 1}", players=members, captain=random.choice(members))
        for i, members in enumerate(dealt)
    ]


@app.get("/coin")
def toss() -> dict[str, str]:
    return {"result": random.choice(["heads", "tails"])}

"""Shareable event cards: the event travels inside a signed link, nothing is stored."""

import os
import secrets
from datetime import date

import jwt
from fastapi import FastAPI, HTTPException
from pydantic import BaseModel, Field, ValidationError

app = FastAPI(title="Share links")

SIGNING_KEY = os.environ.get("SHARE_SIGNING_KEY") or secrets.token_hex(32)
ALGORITHM = "HS256"


class Card(BaseModel):
    title: str = Field(min_length=1, max_length=100)
    day: date
    place: str = Field(default="", max_length=100)
    message: str = Field(default="", max_length=500)


class Link(BaseModel):
    token: str
    path: str


def sign(card: Card) -> str:
    return jwt.encode({"card": card.model_dump(mode="json")}, SIGNING_KEY, algorithm=ALGORITHM)


def read(token: str) -> Card:
    try:
        claims = jwt.decode(token, SIGNING_KEY, algorithms=[ALGORITHM])
        return Card.model_validate(claims["card"])
    except (jwt.InvalidTokenError, KeyError, TypeError, ValidationError):
        raise HTTPException(status_code=400, detail="this link is broken or was tampered with") from None


@app.get("/health")
def health() -> dict[str, str]:
    return {"status": "ok"}


@app.post("/links", response_model=Link, status_code=201)
def create_link(card: Card) -> Link:
    token = sign(card)
    return Link(token=token, path=f"cards/{token}")


@app.get("/cards/{token}", response_model=Card)
def open_card(token: str) -> Card:
    return read(token)


@app.get("/cards/{token}/text")
def card_text(token: str) -> dict[str, str]:
    card = read(token)
    lines = [card.title, card.day.strftime("%A %d %B %Y")]
    if card.place:
        lines.append(f"at {card.place}")
    if card.message:
        lines += ["", card.message]
    return {"text": "\n".join(lines)}

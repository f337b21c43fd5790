"""RSVPs for a wedding: who comes, with how many guests, and what they eat."""

from collections import Counter
from typing import Literal

from fastapi import FastAPI, HTTPException
from pydantic import BaseModel, Field, field_validator, model_validator

app = FastAPI(title="RSVP")

CAPACITY = 120
Meal = Literal["meat", "fish", "vegetarian", "vegan"]


class RsvpIn(BaseModel):
    email: str = Field(max_length=200)
    name: str = Field(min_length=1, max_length=100)
    attending: bool
    guests: int = Field(default=0, ge=0, le=4)
    meals: list[Meal] = Field(default_factory=list)
    note: str = Field(default="", max_length=500)

    @field_validator("email")
    @classmethod
    def normalise_email(cls, value: str) -> str:
        value = value.strip().lower()
        local, _, domain = value.partition("@")
        if not local or "." not in domain or " " in value:
            raise ValueError("please give a valid email address")
        return value

    @model_validator(mode="after")
    def meals_match_party(self) -> "RsvpIn":
        if not self.attending:
            self.guests = 0
            self.meals = []
        elif len(self.meals) != self.guests + 1:
            raise ValueError(f"choose {self.guests + 1} meals, one per person")
        return self


class Rsvp(RsvpIn):
    party_size: int


class Totals(BaseModel):
    responses: int
    attending: int
    declined: int
    people: int
    seats_left: int
    meals: dict[str, int]


rsvps: dict[str, Rsvp] = {}


def people_coming(exclude: str | None = None) -> int:
    return sum(r.party_size for e, r in rsvps.items() if e != exclude)


@app.get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@app.put("/rsvps", response_model=Rsvp)
async def respond(data: RsvpIn) -> Rsvp:
    """Answer, or change an earlier answer (keyed by email)."""
    party = data.guests + 1 if data.attending else 0
    if people_coming(exclude=data.email) + party > CAPACITY:
        raise HTTPException(status_code=409, detail="sorry, the venue is full")
    rsvp = Rsvp(**data.model_dump(), party_size=party)
    rsvps[data.email] = rsvp
    return rsvp


@app.get("/rsvps/{email}", response_model=Rsvp)
async def lookup(email: str) -> Rsvp:
    rsvp = rsvps.get(email.strip().lower())
    if rsvp is None:
        raise HTTPException(status_code=404, detail="no answer from this address yet")
    return rsvp


@app.get("/totals", response_model=Totals)
async def totals() -> Totals:
    meals = Counter(meal for r in rsvps.values() for meal in r.meals)
    attending = [r for r in rsvps.values() if r.attending]
    people = people_coming()
    return Totals(
        responses=len(rsvps),
        attending=len(attending),
        declined=len(rsvps) - len(attending),
        people=people,
        seats_left=CAPACITY - people,
        meals={meal: meals.get(meal, 0) for meal in ("meat", "fish", "vegetarian", "vegan")},
    )

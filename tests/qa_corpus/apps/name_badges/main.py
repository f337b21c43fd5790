"""Conference name badges: register attendees, print badges with initials and a colour."""

import hashlib

from fastapi import FastAPI, HTTPException
from pydantic import BaseModel, Field

app = FastAPI(title="Name badges")

COLOURS = ["teal", "orange", "purple", "green", "crimson", "navy"]


class AttendeeIn(BaseModel):
    name: str = Field(min_length=1, max_length=80)
    company: str = Field(default="", max_length=80)
    role: str = Field(default="attendee", pattern="^(attendee|speaker|organiser)$")


class Badge(BaseModel):
    id: int
    name: str
    company: str
    role: str
    initials: str
    colour: str


attendees: dict[int, Badge] = {}


def colour_for(name: str) -> str:
    """A stable colour per name, so a reprinted badge looks the same."""
    digest = hashlib.sha256(name.lower().encode()).digest()
    return COLOURS[digest[0] % len(COLOURS)]


@app.get("/health")
def health() -> dict[str, str]:
    return {"status": "ok"}


@app.post("/attendees", response_model=Badge, status_code=201)
def register(person: AttendeeIn) -> Badge:
    name = " ".join(person.name.split())
    initials = "".join(part[0].upper() for part in name.split(" ")[:2])
    badge = Badge(
        id=len(attendees) + 1,
        name=name,
        company=person.company.strip(),
        role=person.role,
        initials=initials,
        colour=colour_for(name),
    )
    attendees[badge.id] = badge
    return badge


@app.get("/attendees", response_model=list[Badge])
def list_attendees(role: str | None = None) -> list[Badge]:
    found = [b for b in attendees.values() if role is None or b.role == role]
    return sorted(found, key=lambda b: b.name.lower())


@app.get("/attendees/{attendee_id}", response_model=Badge)
def get_badge(attendee_id: int) -> Badge:
    if attendee_id not in attendees:
        raise HTTPException(status_code=404, detail="no such attendee")
    return attendees[attendee_id]


@app.get("/attendees/{attendee_id}/badge.txt")
def badge_text(attendee_id: int) -> dict[str, str]:
    badge = get_badge(attendee_id)
    lines = [f"[{badge.initials}]", badge.name]
    if badge.company:
        lines.append(badge.company)
    if badge.role != "attendee":
        lines.append(badge.role.upper())
    return {"text": "\n".join(lines)}

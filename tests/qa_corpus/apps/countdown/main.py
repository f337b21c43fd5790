"""Countdowns to the events that matter; today's date comes from a dependency."""

from datetime import date
from typing import Annotated

from fastapi import Depends, FastAPI, HTTPException
from pydantic import BaseModel, Field, field_validator

app = FastAPI(title="Countdown")


def get_today() -> date:
    return date.today()


Today = Annotated[date, Depends(get_today)]


class EventIn(BaseModel):
    name: str = Field(min_length=1, max_length=80)
    day: date
    yearly: bool = Field(default=False, description="birthdays, anniversaries")

    @field_validator("name")
    @classmethod
    def strip_name(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("name must not be blank")
        return value


class Countdown(BaseModel):
    id: int
    name: str
    next_day: date
    days_left: int
    label: str


events: dict[int, EventIn] = {}


def next_occurrence(day: date, today: date) -> date:
    """The next time a yearly date comes round (today counts); 29 February falls on the 28th."""
    for year in (today.year, today.year + 1):
        try:
            candidate = day.replace(year=year)
        except ValueError:
            candidate = date(year, 2, 28)
        if candidate >= today:
            return candidate
    raise ValueError("no next occurrence")  # only past date.max


def describe(days: int) -> str:
    if days == 0:
        return "today!"
    if days == 1:
        return "tomorrow"
    if days == -1:
        return "yesterday"
    if days < 0:
        return f"{-days} days ago"
    if days % 7 == 0:
        weeks = days // 7
        return "in 1 week" if weeks == 1 else f"in {weeks} weeks"
    return f"in {days} days"


def countdown(event_id: int, event: EventIn, today: date) -> Countdown:
    target = event.day
    if event.yearly:
        try:
            target = next_occurrence(event.day, today)
        except (ValueError, OverflowError):
            pass  # past the end of the calendar: count to the date itself
    days = (target - today).days
    return Countdown(id=event_id, name=event.name, next_day=target, days_left=days, label=describe(days))


@app.get("/health")
def health() -> dict[str, str]:
    return {"status": "ok"}


@app.post("/events", response_model=Countdown, status_code=201)
def add_event(event: EventIn, today: Today) -> Countdown:
    event_id = max(events, default=0) + 1
    events[event_id] = event
    return countdown(event_id, event, today)


@app.get("/events", response_model=list[Countdown])
def upcoming(today: Today, include_past: bool = False) -> list[Countdown]:
    items = [countdown(i, e, today) for i, e in events.items()]
    if not include_past:
        items = [c for c in items if c.days_left >= 0]
    return sorted(items, key=lambda c: (c.days_left, c.name))


@app.get("/events/{event_id}", response_model=Countdown)
def one(event_id: int, today: Today) -> Countdown:
    if event_id not in events:
        raise HTTPException(status_code=404, detail="event not found")
    return countdown(event_id, events[event_id], today)


@app.delete("/events/{event_id}", status_code=204)
def remove(event_id: int) -> None:
    if events.pop(event_id, None) is None:
        raise HTTPException(status_code=404, detail="event not found")

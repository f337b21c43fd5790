"""Habit tracker: check habits off day by day and keep your streaks."""

from datetime import date, timedelta

from fastapi import FastAPI, HTTPException
from pydantic import BaseModel, Field, field_validator

FIRST_DAY = date(2000, 1, 1)
LAST_DAY = date(2100, 12, 31)


class HabitTracker:
    def __init__(self) -> None:
        self.habits: dict[str, set[date]] = {}

    def add(self, name: str) -> None:
        key = name.strip().lower()
        if not key:
            raise ValueError("habit name must not be blank")
        if key in self.habits:
            raise ValueError(f"{key} is already tracked")
        self.habits[key] = set()

    def check(self, name: str, day: date) -> bool:
        """Mark a habit done on a day; False if it already was."""
        days = self._days(name)
        if day in days:
            return False
        days.add(day)
        return True

    def uncheck(self, name: str, day: date) -> None:
        self._days(name).discard(day)

    def streak(self, name: str, today: date) -> int:
        """Consecutive days done up to today (or up to yesterday if today is not done yet)."""
        days = self._days(name)
        current = today if today in days else today - timedelta(days=1)
        count = 0
        while current in days:
            count += 1
            current -= timedelta(days=1)
        return count

    def best_streak(self, name: str) -> int:
        best = run = 0
        previous = None
        for day in sorted(self._days(name)):
            run = run + 1 if previous is not None and day - previous == timedelta(days=1) else 1
            best = max(best, run)
            previous = day
        return best

    def completion(self, name: str, start: date, end: date) -> float:
        if end < start:
            raise ValueError("end is before start")
        total = (end - start).days + 1
        done = sum(1 for d in self._days(name) if start <= d <= end)
        return round(100 * done / total, 1)

    def _days(self, name: str) -> set[date]:
        key = name.strip().lower()
        if key not in self.habits:
            raise KeyError(key)
        return self.habits[key]


app = FastAPI(title="Habits")
tracker = HabitTracker()


class HabitIn(BaseModel):
    name: str = Field(max_length=50)


class CheckIn(BaseModel):
    day: date

    @field_validator("day")
    @classmethod
    def sensible_day(cls, day: date) -> date:
        if not FIRST_DAY <= day <= LAST_DAY:
            raise ValueError(f"day must be between {FIRST_DAY} and {LAST_DAY}")
        return day


@app.get("/health")
def health() -> dict[str, str]:
    return {"status": "ok"}


@app.post("/habits", status_code=201)
def add_habit(habit: HabitIn) -> dict[str, str]:
    try:
        tracker.add(habit.name)
    except ValueError as exc:
        raise HTTPException(status_code=400, detail=str(exc)) from None
    return {"name": habit.name.strip().lower()}


@app.post("/habits/{name}/checks")
def check_habit(name: str, body: CheckIn) -> dict[str, object]:
    try:
        added = tracker.check(name, body.day)
        streak = tracker.streak(name, body.day)
    except KeyError:
        raise HTTPException(status_code=404, detail="no such habit") from None
    return {"new": added, "streak": streak}


@app.delete("/habits/{name}/checks/{day}", status_code=204)
def uncheck_habit(name: str, day: date) -> None:
    try:
        tracker.uncheck(name, day)
    except KeyError:
        raise HTTPException(status_code=404, detail="no such habit") from None


@app.get("/habits/{name}/stats")
def stats(name: str, start: date, end: date) -> dict[str, object]:
    if not (FIRST_DAY <= start <= LAST_DAY and FIRST_DAY <= end <= LAST_DAY):
        raise HTTPException(status_code=400, detail=f"dates must be between {FIRST_DAY} and {LAST_DAY}")
    try:
        return {
            "streak": tracker.streak(name, end),
            "best_streak": tracker.best_streak(name),
            "completion_percent": tracker.completion(name, start, end),
        }
    except KeyError:
        raise HTTPException(status_code=404, detail="no such habit") from None
    except ValueError as exc:
        raise HTTPException(status_code=400, detail=str(exc)) from None


@app.get("/habits")
def list_habits() -> list[str]:
    return sorted(tracker.habits)

"""Habit tracker: daily check-ins, current and longest streaks, a 7-day completion rate."""

from activities.generation.blueprints.prompt import listed
from activities.generation.blueprints.scaffold import Blueprint, Brief, Settings

_CUES = ("habits", "habit", "track", "tracking", "routine", "every day", "daily")


def _settings(brief: Brief) -> Settings:
    return {"HABITS": tuple(listed(brief.prompt, _CUES, max_items=10, max_chars=60))}


BLUEPRINT = Blueprint(
    kind="habits",
    label="Habits",
    summary="A habit tracker: daily check-ins, streaks and a weekly completion rate.",
    keywords={
        "habit": 3,
        "habit tracker": 3,
        "streak": 3,
        "routine": 2,
        "daily goal": 2,
        "check in": 1,
        "every day": 1,
        "meditation": 1,
        "workout": 1,
    },
    imports=("from datetime import date, timedelta",),
    seeded=True,
    settings=_settings,
)

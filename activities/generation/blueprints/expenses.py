"""Expense splitter: shared expenses in one currency, balances and the fewest settling transfers."""

from activities.generation.blueprints.prompt import currency, listed
from activities.generation.blueprints.scaffold import Blueprint, Brief, Settings

DEFAULT_CURRENCY = "USD"
_MEMBER_CUES = ("between", "among", "amongst", "with", "for", "members", "friends", "people")


def _settings(brief: Brief) -> Settings:
    members = listed(brief.prompt, _MEMBER_CUES, max_items=20, max_chars=40, names=True)
    return {"CURRENCY": currency(brief.prompt) or DEFAULT_CURRENCY, "MEMBERS": tuple(members)}


BLUEPRINT = Blueprint(
    kind="expenses",
    label="Expenses",
    summary="An expense splitter: shared costs, who owes whom, and how to settle up.",
    keywords={
        "expense": 3,
        "split bill": 3,
        "split the bill": 3,
        "split cost": 3,
        "split expense": 3,
        "who owe": 3,
        "owe": 2,
        "splitwise": 3,
        "shared cost": 2,
        "settle up": 2,
        "reimburse": 2,
        "iou": 2,
        "debt": 1,
        "bill": 1,
        "budget": 1,
    },
    imports=("import json", "from decimal import Decimal"),
    seeded=True,
    settings=_settings,
)

"""Poll: a question with options, one vote per voter, tallies with percentages and leaders."""

from activities.generation.blueprints.prompt import listed, question, quoted, unique
from activities.generation.blueprints.scaffold import Blueprint, Brief, Settings

DEFAULT_QUESTION = "What do you think?"
DEFAULT_OPTIONS = ("Yes", "No")
_OPTION_CUES = ("options", "choices", "between", "choose from", "vote on", "candidates", "either")


def _settings(brief: Brief) -> Settings:
    asked = question(brief.prompt)
    if asked is not None and len(asked) > 200:
        asked = None
    options = unique((q for q in quoted(brief.prompt) if q != asked and len(q) <= 100), 10)
    if len(options) < 2:
        options = listed(brief.prompt, _OPTION_CUES, max_items=10, max_chars=100)
    return {
        "POLL_QUESTION": asked or DEFAULT_QUESTION,
        "POLL_OPTIONS": tuple(options) if len(options) >= 2 else DEFAULT_OPTIONS,
    }


BLUEPRINT = Blueprint(
    kind="poll",
    label="Poll",
    summary="A poll: questions with options, one vote per voter, live results.",
    keywords={
        "poll": 3,
        "vote": 3,
        "voting": 3,
        "survey": 2,
        "ballot": 3,
        "election": 2,
        "referendum": 2,
        "opinion": 1,
        "decide between": 2,
        "choose between": 2,
    },
    seeded=True,
    settings=_settings,
)

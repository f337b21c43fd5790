"""Flashcards: a deck on the prompt's topic, Leitner-box scheduling and answer checking."""

from activities.generation.blueprints.prompt import pairs
from activities.generation.blueprints.scaffold import Blueprint, Brief, Settings


def _settings(brief: Brief) -> Settings:
    return {
        "DECK_TOPIC": " ".join(brief.context) or "General knowledge",
        "SEED_CARDS": tuple(pairs(brief.prompt, max_pairs=30, max_chars=100)),
    }


BLUEPRINT = Blueprint(
    kind="flashcards",
    label="Flashcards",
    summary="Flashcards: a deck with spaced repetition (Leitner boxes) and answer checking.",
    keywords={
        "flashcard": 3,
        "flash card": 3,
        "spaced repetition": 3,
        "leitner": 3,
        "deck": 2,
        "vocabulary": 2,
        "memorize": 2,
        "memorise": 2,
        "quiz": 2,
        "study": 1,
        "revise": 1,
        "learn": 1,
    },
    imports=("import unicodedata", "from datetime import date, timedelta"),
    seeded=True,
    settings=_settings,
)

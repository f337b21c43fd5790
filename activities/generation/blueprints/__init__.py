"""The app kinds the offline generator knows, and how a prompt picks one.

Each kind is a module holding one :class:`~.scaffold.Blueprint`: its
keywords, its title noun and how it reads parameters from the prompt; the
code it generates lives in ``templates/<kind>.*.py.tmpl`` around the shared
scaffolding (:mod:`.scaffold`).

Kind detection scores every blueprint by the weighted keyword phrases found
in the prompt's stemmed words and takes the best (ties go to the earlier
kind in :data:`BLUEPRINTS`). When nothing matches, :data:`FALLBACK` — notes —
is used: free-form, searchable notes serve almost any request for "a place
to put things" without pretending to understand it.
"""

from activities.generation.blueprints import (
    expenses,
    flashcards,
    guestbook,
    habits,
    inventory,
    notes,
    poll,
    shortener,
    todo,
)
from activities.generation.blueprints.prompt import stems
from activities.generation.blueprints.scaffold import Blueprint, Brief, stems_of

BLUEPRINTS: tuple[Blueprint, ...] = (
    todo.BLUEPRINT,
    notes.BLUEPRINT,
    poll.BLUEPRINT,
    guestbook.BLUEPRINT,
    habits.BLUEPRINT,
    shortener.BLUEPRINT,
    flashcards.BLUEPRINT,
    expenses.BLUEPRINT,
    inventory.BLUEPRINT,
)
FALLBACK: Blueprint = notes.BLUEPRINT

#: Stems of the labels and of the one-word keywords that name a kind (weight 3 or more):
#: words that say what sort of app it is, not whose ("notes", "poll", "inventory").
KIND_WORDS: frozenset[str] = frozenset(
    word
    for bp in BLUEPRINTS
    for phrase in (bp.label, *(k for k, w in bp.keywords.items() if w >= 3 and " " not in k))
    for word in stems_of(phrase)
)

__all__ = [
    "BLUEPRINTS",
    "FALLBACK",
    "KIND_WORDS",
    "Blueprint",
    "Brief",
    "blueprint",
    "detect_kind",
    "match_kind",
]


def match_kind(prompt: str) -> Blueprint | None:
    """The blueprint whose keywords score highest in ``prompt``; None when none matches."""
    words = stems(prompt)
    best = max(BLUEPRINTS, key=lambda bp: bp.score(words))
    return best if best.score(words) > 0 else None


def detect_kind(prompt: str) -> Blueprint:
    """The blueprint ``prompt`` asks for, else :data:`FALLBACK`."""
    return match_kind(prompt) or FALLBACK


def blueprint(kind: str) -> Blueprint:
    """The blueprint of ``kind``; KeyError for an unknown kind."""
    for bp in BLUEPRINTS:
        if bp.kind == kind:
            return bp
    raise KeyError(kind)

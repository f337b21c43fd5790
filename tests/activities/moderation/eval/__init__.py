"""The public moderation evaluation set: the engine's labelled corpus, parts kept apart.

The written prompts, their labels and their split into a tuning part (two thirds)
and a held-out part (one third) live with the engine, in
:mod:`activities.moderation.corpus`, which the learned classifier trains on (its
tuning part only). Here each becomes an ``EvalCase``, and obfuscated variants of
every prompt (``obfuscate.VARIANTS``) are generated, never written: they keep
their prompt's label and part and are counted apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from activities.moderation.corpus import CATEGORIES, PROMPTS_DIR, Part, labelled_prompts, part_of
from schemas.moderation import Verdict
from tests.activities.moderation.eval.obfuscate import VARIANTS

__all__ = [
    "CATEGORIES",
    "PROMPTS_DIR",
    "EvalCase",
    "Part",
    "obfuscated_cases",
    "part_of",
    "written_cases",
]


@dataclass(frozen=True, slots=True)
class EvalCase:
    """One labelled prompt: its category, the action it must get, and where it came from."""

    category: str
    expected: Verdict
    prompt: str
    part: Part
    source: str
    """``"file:line"`` of the written prompt (an obfuscated variant keeps its original's)."""
    obfuscation: str | None = None
    """The transformation that produced this variant, or None for a written prompt."""

    @property
    def abusive(self) -> bool:
        """Whether the prompt must be stopped (blocked or sent to review)."""
        return self.expected != "allow"


@cache
def written_cases() -> tuple[EvalCase, ...]:
    """Every written prompt, file by file in taxonomy order."""
    return tuple(
        EvalCase(case.category, case.expected, case.prompt, case.part, case.source)
        for case in labelled_prompts()
    )


@cache
def obfuscated_cases() -> tuple[EvalCase, ...]:
    """Every written prompt under every obfuscation of ``obfuscate.VARIANTS``."""
    return tuple(
        EvalCase(
            case.category,
            case.expected,
            transform(case.prompt),
            case.part,
            case.source,
            obfuscation=name,
        )
        for case in written_cases()
        for name, transform in VARIANTS.items()
    )

"""The labelled prompts the local engine learns from, and the split that keeps a third unseen.

Each file in ``prompts/`` names its category on its first line (``# category: NAME``)
and holds one prompt a line, led by the action it must get: ``block``, ``flag``
(wait for a reviewer) or ``allow``. Abusive prompts carry the category they belong
to; benign near-misses (``allow``) sit in the file of the category they resemble,
so each file teaches both what a category is and what it must leave alone.

The set is split once, by a stable hash of each prompt's text, into a tuning part
(two thirds), the only part rules are written from and the learned classifier
(:mod:`activities.moderation.learned`) is trained on, and a held-out part (one
third) kept for measuring. The split depends on nothing but the text, so a prompt
never moves between parts; rewording a prompt would give it a new draw, so prompts
are added, never edited. ``tests/activities/moderation/eval`` evaluates on it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Final, Literal

from schemas.moderation import ModerationCategory, Verdict

__all__ = ["CATEGORIES", "PROMPTS_DIR", "LabelledPrompt", "Part", "labelled_prompts", "part_of"]

Part = Literal["tuning", "held-out"]

PROMPTS_DIR: Final = Path(__file__).resolve().parent / "prompts"

CATEGORIES: Final = tuple(category.value for category in ModerationCategory)
"""The taxonomy the set is labelled with, in its order: OpenAI's moderation
categories, then the platform-abuse ones an app builder needs."""

_ACTIONS: Final[dict[str, Verdict]] = {"block": "block", "flag": "flag", "allow": "allow"}


def part_of(prompt: str) -> Part:
    """The part a prompt belongs to, from its text alone: one in three is held out."""
    draw = int.from_bytes(hashlib.sha256(prompt.encode()).digest()[:4], "big")
    return "held-out" if draw % 3 == 0 else "tuning"


@dataclass(frozen=True, slots=True)
class LabelledPrompt:
    """One written prompt: its category, the action it must get, its part and its line."""

    category: str
    expected: Verdict
    prompt: str
    part: Part
    source: str
    """``"file:line"`` of the prompt."""

    @property
    def abusive(self) -> bool:
        """Whether the prompt must be stopped (blocked or sent to review)."""
        return self.expected != "allow"

    @property
    def taxonomy_category(self) -> ModerationCategory:
        """The category as the engine names it."""
        return ModerationCategory(self.category)


def _parse(path: Path) -> list[LabelledPrompt]:
    lines = path.read_text(encoding="utf-8").splitlines()
    header = lines[0].removeprefix("# category:").strip() if lines else ""
    if not lines or not lines[0].startswith("# category:") or header not in CATEGORIES:
        raise ValueError(f"{path.name}: the first line must be '# category: NAME'")
    cases = []
    for number, line in enumerate(lines[1:], start=2):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        action, _, prompt = text.partition(" ")
        prompt = prompt.strip()
        if action not in _ACTIONS or not prompt:
            raise ValueError(f"{path.name}:{number}: expected 'block|flag|allow PROMPT'")
        cases.append(
            LabelledPrompt(
                header, _ACTIONS[action], prompt, part_of(prompt), f"{path.name}:{number}"
            )
        )
    return cases


@cache
def labelled_prompts() -> tuple[LabelledPrompt, ...]:
    """Every written prompt, file by file in taxonomy order.

    Raises:
        ValueError: a file is malformed, two files name one category, or a prompt
            is written twice.
    """
    by_category: dict[str, list[LabelledPrompt]] = {}
    for path in sorted(PROMPTS_DIR.glob("*.txt")):
        parsed = _parse(path)
        if parsed and parsed[0].category in by_category:
            raise ValueError(f"{path.name}: a second file for {parsed[0].category}")
        if parsed:
            by_category[parsed[0].category] = parsed
    cases = tuple(case for name in CATEGORIES for case in by_category.get(name, []))
    seen: set[str] = set()
    for case in cases:
        if case.prompt in seen:
            raise ValueError(f"{case.source}: duplicate prompt")
        seen.add(case.prompt)
    return cases

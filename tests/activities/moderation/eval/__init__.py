"""The public moderation evaluation set: labelled prompts written for it, one file per category.

Each file in ``prompts/`` names its category on its first line (``# category: NAME``)
and holds one prompt a line, led by the action it must get: ``block``, ``flag``
(wait for a reviewer) or ``allow``. Abusive prompts carry the category they belong
to; benign near-misses (``allow``) sit in the file of the category they resemble,
so each file measures both what a category catches and what it must leave alone.

The set is split once, by a stable hash of each prompt's text, into a tuning part
(two thirds) and a held-out part (one third) that rules are never tuned on. The
split depends on nothing but the text, so a prompt never moves between parts;
rewording a prompt would give it a new draw, so prompts are added, never edited.

Obfuscated variants of every prompt (``obfuscate.VARIANTS``) are generated, never
written: they keep their prompt's label and part and are counted apart.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Final, Literal

from schemas.moderation import Verdict
from tests.activities.moderation.eval.obfuscate import VARIANTS

Part = Literal["tuning", "held-out"]

PROMPTS_DIR: Final = Path(__file__).resolve().parent / "prompts"

CATEGORIES: Final = (
    "harassment",
    "harassment/threatening",
    "hate",
    "hate/threatening",
    "self-harm",
    "self-harm/intent",
    "self-harm/instructions",
    "sexual",
    "sexual/minors",
    "violence",
    "violence/graphic",
    "illicit",
    "illicit/violent",
    "phishing",
    "malware",
    "fraud",
    "spam",
    "surveillance",
    "scraping",
    "doxxing",
    "prompt-injection",
)
"""The taxonomy the set is labelled with: OpenAI's moderation categories, then the
platform-abuse ones an app builder needs."""

_ACTIONS: Final[dict[str, Verdict]] = {"block": "block", "flag": "flag", "allow": "allow"}


def part_of(prompt: str) -> Part:
    """The part a prompt belongs to, from its text alone: one in three is held out."""
    draw = int.from_bytes(hashlib.sha256(prompt.encode()).digest()[:4], "big")
    return "held-out" if draw % 3 == 0 else "tuning"


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


def _parse(path: Path) -> list[EvalCase]:
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
            EvalCase(header, _ACTIONS[action], prompt, part_of(prompt), f"{path.name}:{number}")
        )
    return cases


@cache
def written_cases() -> tuple[EvalCase, ...]:
    """Every written prompt, file by file in taxonomy order."""
    by_category: dict[str, list[EvalCase]] = {}
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

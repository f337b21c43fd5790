"""What every category module of the rule tables is written with.

``Rule`` and ``Context`` (the two kinds of entries), ``any_of`` (a vocabulary as
one whole-word regular expression), ``near`` and ``seq`` (the two ways terms
combine into a rule), and the regex fragments several vocabularies reuse.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from schemas.moderation import ModerationCategory


@dataclass(frozen=True, slots=True)
class Rule:
    """Evidence for one category: all ``terms`` match close to each other."""

    category: ModerationCategory
    weight: float
    label: str
    terms: tuple[str, ...]
    window: int = 80
    ordered: bool = False
    severe: bool = False


@dataclass(frozen=True, slots=True)
class Context:
    """Benign context that lowers the scores of ``categories``."""

    categories: frozenset[ModerationCategory]
    factor: float
    label: str
    term: str
    unless: str | None = None


def any_of(*alternatives: str) -> str:
    """One regex matching any alternative as a whole word (or whole token).

    Raises:
        ValueError: an alternative ends in a space, so a word could never follow it.
    """
    for alternative in alternatives:
        if alternative.endswith((" ", " )?", " )*")):
            raise ValueError(f"alternative {alternative!r} ends in a space: it can never match")
    return r"(?<!\w)(?:" + "|".join(alternatives) + r")(?!\w)"


def near(
    category: ModerationCategory,
    weight: float,
    label: str,
    *terms: str,
    window: int = 80,
    severe: bool = False,
) -> Rule:
    """A rule whose terms all match within ``window`` characters, in any order."""
    return Rule(category, weight, label, terms, window=window, severe=severe)


def seq(
    category: ModerationCategory,
    weight: float,
    label: str,
    *terms: str,
    gap: int = 30,
    severe: bool = False,
) -> Rule:
    """A rule whose terms match in this order, at most ``gap`` characters apart."""
    return Rule(category, weight, label, terms, window=gap, ordered=True, severe=severe)


WITHOUT_CONSENT: Final = (
    r"without (?:\S+ ){0,2}(?:consent\w*|knowledge|know\w*|notic\w*|permission|realiz\w*"
    r"|telling|asking|aware\w*)"
)
"""Regex fragment: "without (their) consent / knowing / asking ..."."""

EDUCATION: Final = (
    r"awareness|training(?! equipment| plan| schedule| log)|train (?:my |our )?(?:staff|employees"
    r"|team)|quiz\w*|courses?|lessons?"
    r"|teach(?:es|ing|ings)?|educat\w*|learn(?:ing)? (?:about|to spot|to recogni[sz]e)"
    r"|how to (?:spot|recogni[sz]e|identify|avoid|report|detect)"
)
"""Regex fragment: teaching and learning (awareness training, quizzes, courses ...)."""

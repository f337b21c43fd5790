"""The one place that turns moderation scores into verdicts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from schemas.moderation import Verdict


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Score cut-offs shared by every moderation backend.

    A category score at or above ``block`` blocks the prompt, unless the
    category's action is only to flag; at or above ``flag`` sends it to manual
    review; anything lower is allowed.
    """

    flag: float = 0.40
    block: float = 0.75

    def verdict(self, score: float, action: Verdict = "block") -> Verdict:
        """The verdict a category score earns, at most the category's ``action``."""
        if score >= self.block and action == "block":
            return "block"
        if score >= self.flag and action != "allow":
            return "flag"
        return "allow"


THRESHOLDS: Final = Thresholds()

VERDICT_RANK: Final[dict[Verdict, int]] = {"allow": 0, "flag": 1, "block": 2}
"""Strictness order of verdicts: the higher rank wins when results are combined."""

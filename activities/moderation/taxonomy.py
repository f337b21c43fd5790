"""The moderation taxonomy: what each category covers and what it does to a deployment.

Every backend scores the same categories (``schemas.moderation.ModerationCategory``:
OpenAI's moderation categories under OpenAI's names, then the platform-abuse ones).
A category's ``action`` is the strictest verdict it can give: a ``block`` category
blocks at a score of ``THRESHOLDS.block`` and sends a lower score from
``THRESHOLDS.flag`` up to review; a ``flag`` category (lawful but sensitive content,
or a person in distress) never blocks on its own, it waits for a reviewer.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final

from activities.moderation.thresholds import THRESHOLDS, VERDICT_RANK, Thresholds
from schemas.moderation import CategoryScore, ModerationCategory, Verdict

C = ModerationCategory


@dataclass(frozen=True, slots=True)
class Category:
    """One category's action (``block`` or ``flag``) and what it covers."""

    action: Verdict
    covers: str


TAXONOMY: Final[Mapping[ModerationCategory, Category]] = {
    C.HARASSMENT: Category("block", "targeted abuse of a person: insults, humiliation, pile-ons"),
    C.HARASSMENT_THREATENING: Category("block", "threats of harm against a person"),
    C.HATE: Category("block", "dehumanising or demeaning a protected group"),
    C.HATE_THREATENING: Category("block", "threats or calls for violence against a group"),
    C.SELF_HARM: Category("block", "promoting or encouraging self-harm or eating disorders"),
    C.SELF_HARM_INTENT: Category("flag", "the writer says they mean to harm themselves"),
    C.SELF_HARM_INSTRUCTIONS: Category("block", "how to harm or kill oneself, or hide it"),
    C.SEXUAL: Category("flag", "explicit sexual content between adults"),
    C.SEXUAL_MINORS: Category("block", "sexual content involving minors, or grooming"),
    C.VIOLENCE: Category("block", "glorifying, inciting or organising real violence"),
    C.VIOLENCE_GRAPHIC: Category("flag", "graphic depictions of death or injury"),
    C.ILLICIT: Category("block", "non-violent crime: illegal markets, laundering, DDoS, piracy"),
    C.ILLICIT_VIOLENT: Category("block", "weapons, explosives, planning violent crime"),
    C.PHISHING: Category("block", "phishing and credential harvesting"),
    C.MALWARE: Category("block", "malware, ransomware and its operations, cryptojacking"),
    C.FRAUD: Category("block", "scams (impersonation giveaways, fake investments), forgeries"),
    C.SPAM: Category("block", "unsolicited mass messaging, fake reviews and engagement"),
    C.SURVEILLANCE: Category("block", "covert tracking, stalkerware, hidden recording of people"),
    C.SCRAPING: Category("flag", "collecting people's personal data (photos, followers) at scale"),
    C.DOXXING: Category("block", "finding or exposing a person's identity, address or contacts"),
    C.PROMPT_INJECTION: Category("block", "attacks on the builder: overrides, secrets, sandbox"),
}
"""Every category, with its action and what it covers (the README's taxonomy table)."""


def action(category: ModerationCategory) -> Verdict:
    """The strictest verdict ``category`` can give."""
    return TAXONOMY[category].action


def verdict(categories: Iterable[CategoryScore], thresholds: Thresholds = THRESHOLDS) -> Verdict:
    """The strictest verdict the scores earn, each capped at its category's action."""
    return max(
        (thresholds.verdict(item.score, action(item.category)) for item in categories),
        key=VERDICT_RANK.__getitem__,
        default="allow",
    )

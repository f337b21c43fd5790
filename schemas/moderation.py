"""Moderation verdicts for prompts (and, later, generated text)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, Field

Verdict = Literal["allow", "flag", "block"]


class ModerationCategory(StrEnum):
    """What moderation looks for: OpenAI's moderation categories, under OpenAI's names,
    then the platform-abuse categories an app builder needs.

    The same names in the local engine, the OpenAI backend, the moderation log and
    the API. Names used before this taxonomy (``self_harm``, ``stalking`` ...) still
    read, as the category that took them over (``LEGACY_NAMES``).
    """

    HARASSMENT = "harassment"
    HARASSMENT_THREATENING = "harassment/threatening"
    HATE = "hate"
    HATE_THREATENING = "hate/threatening"
    SELF_HARM = "self-harm"
    SELF_HARM_INTENT = "self-harm/intent"
    SELF_HARM_INSTRUCTIONS = "self-harm/instructions"
    SEXUAL = "sexual"
    SEXUAL_MINORS = "sexual/minors"
    VIOLENCE = "violence"
    VIOLENCE_GRAPHIC = "violence/graphic"
    ILLICIT = "illicit"
    ILLICIT_VIOLENT = "illicit/violent"
    PHISHING = "phishing"  # phishing and credential harvesting
    MALWARE = "malware"  # malware, ransomware operations, cryptojacking
    FRAUD = "fraud"  # scams (impersonation giveaways, fake investments) and forged documents
    SPAM = "spam"  # unsolicited mass messaging, fake reviews and engagement
    SURVEILLANCE = "surveillance"  # covert tracking, stalkerware, hidden recording
    SCRAPING = "scraping"  # collecting people's personal data at scale
    DOXXING = "doxxing"  # finding or exposing a person's identity or address
    PROMPT_INJECTION = "prompt-injection"  # aimed at the platform itself

    @classmethod
    def _missing_(cls, value: object) -> ModerationCategory | None:
        """Read a name of the previous taxonomy (old log rows, old workflow histories)."""
        name = LEGACY_NAMES.get(value) if isinstance(value, str) else None
        return cls(name) if name is not None else None


LEGACY_NAMES: Final[dict[str, str]] = {
    "self_harm": "self-harm",
    "prompt_injection": "prompt-injection",
    "stalking": "surveillance",
    "cryptomining": "malware",
    "ddos": "illicit",
}
"""Category names of the previous taxonomy -> the category that took each over."""


class CategoryScore(BaseModel):
    """How strongly a prompt matched one category, in [0, 1]."""

    model_config = ConfigDict(frozen=True)

    category: ModerationCategory
    score: float = Field(ge=0.0, le=1.0)


class ModerationResult(BaseModel):
    """The verdict on one prompt, with the evidence for it."""

    model_config = ConfigDict(frozen=True)

    verdict: Verdict
    categories: tuple[CategoryScore, ...] = ()
    reason: str
    backend: str = Field(description="which engine(s) decided, e.g. 'local' or 'local+openai'")


class ModerateBundleInput(BaseModel):
    """Input of the activity moderating what a bundle shows (by hash, never the files)."""

    bundle_hash: str
    owner_id: str
    app_id: str
    deployment_id: str


class ModerateInput(BaseModel):
    """Input of the moderation activity."""

    prompt: str
    owner_id: str
    app_id: str
    deployment_id: str


class ReviewItem(BaseModel):
    """A deployment whose prompt moderation flagged, waiting for an operator."""

    app_id: str
    deployment_id: str
    owner_id: str
    flagged_at: datetime
    reason: str
    categories: dict[str, float]
    prompt: str

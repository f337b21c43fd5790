"""Moderation verdicts for prompts (and, later, generated text)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Verdict = Literal["allow", "flag", "block"]


class ModerationCategory(StrEnum):
    """Abuse categories the platform refuses or reviews."""

    PHISHING = "phishing"  # phishing and credential harvesting
    MALWARE = "malware"
    CRYPTOMINING = "cryptomining"
    DDOS = "ddos"
    SPAM = "spam"
    FRAUD = "fraud"  # fraud and fake documents
    STALKING = "stalking"  # stalking and doxxing
    HATE = "hate"
    SELF_HARM = "self_harm"
    PROMPT_INJECTION = "prompt_injection"  # aimed at the platform itself


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

"""What a code generator returns, and how it fails."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from schemas.bundle import AppBundle


class GeneratedApp(BaseModel):
    """A generated app: its validated bundle, its kind and its human title."""

    model_config = ConfigDict(frozen=True)

    bundle: AppBundle
    kind: str
    name: str


class GenerationError(ValueError):
    """A generator could not produce a valid bundle; the message says why (never a secret)."""

"""Bodies of the identity routes: who am I, service tokens, logout, email verification."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

TokenScope = Literal[
    "apps:read",
    "apps:write",
    "secrets:read",
    "secrets:write",
    "audit:read",
    "review:read",
    "review:write",
]
MAX_TOKEN_TTL_S = 90 * 24 * 3600


class Me(BaseModel):
    """The caller's account and credential."""

    user_id: str
    email: str | None
    email_verified: bool
    operator: bool
    via: Literal["session", "token"]
    scopes: list[str] | None = Field(description="the token's scopes (null: every scope)")
    csrf_token: str | None = Field(
        description="echo in X-CSRF-Token on state-changing requests made with the session"
    )


class TokenCreate(BaseModel):
    """``POST /v1/tokens``: a scoped, expiring service token for machine-to-machine calls."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100, pattern=r"^[\w .:-]+$")
    scopes: list[TokenScope] = Field(min_length=1, max_length=7)
    ttl_s: int = Field(default=30 * 24 * 3600, ge=60, le=MAX_TOKEN_TTL_S)


class TokenCreated(BaseModel):
    """The new token: shown once, stored only as a hash."""

    id: str
    token: str
    name: str
    scopes: list[str]
    expires_in_s: int


class LoggedOut(BaseModel):
    """How many sessions a logout ended."""

    sessions_ended: int


class VerificationSent(BaseModel):
    """A new verification link went to this address."""

    email: str

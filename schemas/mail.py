"""Mail delivery: the retry policy of the outbox and what one scheduled delivery run did."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class MailRetryPolicy(BaseModel):
    """How often a failed mail is tried again, and for how long.

    The delay after the n-th failed attempt is ``initial_s * 2**(n-1)``, at most
    ``max_s``. A mail still unsent once ``budget_s`` has passed since it was
    queued is given up after its next failed attempt: kept, and alerted.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    initial_s: float = Field(default=60.0, ge=0, description="delay after the first failure")
    max_s: float = Field(default=3600.0, ge=0, description="longest delay between attempts")
    budget_s: float = Field(default=24 * 3600.0, ge=0, description="retry for this long")
    lease_s: float = Field(
        default=120.0,
        gt=0,
        description="a claimed mail is left alone by other deliverers for this long",
    )


class MailDeliveryInput(BaseModel):
    """Input of MailDeliveryWorkflow (and its activity)."""

    model_config = ConfigDict(extra="forbid")

    policy: MailRetryPolicy = MailRetryPolicy()
    limit: int = Field(default=500, ge=1, le=10_000, description="attempts in one run")


class MailDeliveryResult(BaseModel):
    """What one delivery run did."""

    sent: int
    failed: int
    given_up: list[int] = Field(default_factory=list, description="outbox ids given up now")
    alerts: list[int] = Field(default_factory=list, description="operator alerts raised")

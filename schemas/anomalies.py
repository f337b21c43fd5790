"""Anomaly detection: the rules' thresholds, what a scan found, and alerts."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

Rule = Literal[
    "failed_logins",
    "blocked_prompts",
    "secret_reads",
    "rate_limited",
    "failed_deployments",
    "new_login_address",
    "wal_archive_failing",
    "backup_failed",
    "restore_drill_failed",
    "mail_given_up",
    "egress_refused",
]


class Thresholds(BaseModel):
    """How much of each thing within one window raises an alert."""

    window_s: int = Field(default=600, ge=60)
    failed_logins: int = Field(default=10, ge=1, description="per client address")
    blocked_prompts: int = Field(default=3, ge=1, description="per user; suspends them")
    secret_reads: int = Field(default=20, ge=1, description="per user, and 5x their norm")
    secret_read_norm_factor: float = Field(default=5.0, ge=1)
    rate_limited_minutes: int = Field(default=3, ge=1, description="minutes over the limit")
    failed_deployments: int = Field(default=5, ge=1, description="QA-failed, per user")
    egress_refused: int = Field(
        default=20, ge=1, description="per app: connections to hosts it may not reach"
    )


class Finding(BaseModel):
    """One rule tripped for one subject (a user id or a client address)."""

    rule: Rule
    subject: str
    count: int
    summary: str
    detail: dict[str, Any] = {}


class Alert(BaseModel):
    """A stored alert, as operators list it."""

    id: int
    at: datetime
    rule: str
    subject: str
    summary: str
    detail: dict[str, Any]


class AnomalyScanInput(BaseModel):
    """Input of the scan activity (and workflow)."""

    thresholds: Thresholds = Thresholds()


class AnomalyScanResult(BaseModel):
    """What one scan did."""

    findings: int
    new_alerts: list[int]
    suspended: list[str]

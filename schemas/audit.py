"""Audit events: who did what to which resource, from where, and how it ended."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field


class AuditOutcome(StrEnum):
    """How an audited action ended."""

    OK = "ok"
    DENIED = "denied"  # an owner check or an authorisation failed
    FAILED = "failed"  # refused for another reason (bad state, bad input)


class AuditAction(StrEnum):
    """Security-relevant actions; the audit log's vocabulary."""

    SECRET_SET = "secret.set"
    SECRET_LIST = "secret.list"
    SECRET_REVEAL = "secret.reveal"
    SECRET_DELETE = "secret.delete"
    SECRET_INJECT = "secret.inject"
    KEY_ROTATE = "key.rotate"
    KEY_RETIRE = "key.retire"
    KEY_ESCROW_EXPORT = "key.escrow.export"
    PAYLOAD_DECODE = "payload.decode"
    AUDIT_READ = "audit.read"
    ACCESS_DENIED = "access.denied"  # an owner check refused another user's object
    LOGIN = "login"
    LOGIN_FAILED = "login.failed"
    LOGOUT = "logout"
    LOGOUT_EVERYWHERE = "logout.everywhere"
    EMAIL_VERIFY = "email.verify"
    TOKEN_CREATE = "token.create"
    TOKEN_REVOKE = "token.revoke"
    REVIEW_DECIDE = "review.decide"
    APP_DELETE = "app.delete"
    MODERATION_READ = "moderation.read"
    RATE_LIMITED = "rate.limited"
    USER_SUSPEND = "user.suspend"
    USER_REINSTATE = "user.reinstate"
    PRIVACY_EXPORT = "privacy.export"
    PRIVACY_ERASE = "privacy.erase"
    QA_OVERRIDE_SET = "qa.override.set"  # an operator lowered (or set) an app's QA floor
    QA_OVERRIDE_CLEAR = "qa.override.clear"
    QA_REPORT_READ = "qa.report.read"  # an operator opened a deployment's QA report
    TEMPORAL_UI_ACTION = "temporal.ui.action"  # an operator changed something in the UI
    EGRESS_DECIDE = "egress.decide"  # an operator approved or rejected an app's egress target


class Actor(BaseModel):
    """Who acts: a user id, and the client address when there is one."""

    user_id: str = Field(min_length=1, max_length=200)
    client_ip: str | None = Field(default=None, max_length=64)


class AuditEvent(BaseModel):
    """An event about to be appended."""

    actor: Actor
    action: AuditAction
    resource: str = Field(min_length=1, max_length=500)
    outcome: AuditOutcome
    detail: dict[str, Any] = Field(default_factory=dict)


class AuditRecord(BaseModel):
    """One row of the audit log, with its place in the hash chain."""

    seq: int
    at: datetime
    actor: str
    client_ip: str | None
    action: str
    resource: str
    outcome: str
    detail: dict[str, Any]
    prev_hash: str
    hash: str


class AuditVerification(BaseModel):
    """The result of walking the chain from the first row."""

    ok: bool
    rows_checked: int
    first_bad_seq: int | None = None
    problem: str | None = None

"""The public workflow contract: AppWorkflow / DeploymentWorkflow inputs, signals, queries.

These models are part of the versioned Workflow API (README, "Workflow API"):
add optional fields, never repurpose or remove one.
"""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, Field, field_validator, model_validator

from schemas.generation import MAX_GENERATION_REPAIRS
from schemas.hosts import HOST_NAME_PATTERN
from schemas.qa import QAPolicy, QAStageOutcome
from schemas.text import refuse_control_characters

MAX_PROMPT_CHARS = 4000
APP_ID_PATTERN = r"^[a-z][a-z0-9-]{1,38}[a-z0-9]$"
REQUEST_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{7,63}$"
SHA256_PATTERN = r"^[0-9a-f]{64}$"


def validate_prompt(value: str) -> str:
    """Reject empty, whitespace-only and over-long prompts, and control characters
    (shared by API and CLI)."""
    refuse_control_characters(value, "prompt")
    stripped = value.strip()
    if not stripped:
        raise ValueError("prompt is empty")
    if len(stripped) > MAX_PROMPT_CHARS:
        raise ValueError(f"prompt has {len(stripped)} characters; the limit is {MAX_PROMPT_CHARS}")
    return stripped


def validate_app_id(value: str) -> str:
    """App ids are DNS-label-like slugs: 3-40 chars of a-z, 0-9 and '-'."""
    if not re.match(APP_ID_PATTERN, value):
        raise ValueError(
            "app id must be 3-40 characters of a-z, 0-9 and '-', "
            "start with a letter and not end with '-'"
        )
    return value


class Stage(StrEnum):
    """Where a deployment is. Also the value of the ``MbStage`` search attribute."""

    QUEUED = "queued"
    MODERATING = "moderating"
    AWAITING_REVIEW = "awaiting_review"
    GENERATING = "generating"
    TESTING = "testing"
    DEPLOYING = "deploying"
    HEALTH_CHECKING = "health_checking"
    SWITCHING = "switching"
    WATCHING = "watching"
    RECORDING = "recording"
    LIVE = "live"
    REJECTED = "rejected"
    FAILED = "failed"
    ROLLED_BACK = "rolled_back"


class DeploymentOutcome(StrEnum):
    """How a deployment ended (or that it has not yet)."""

    PENDING = "pending"
    RUNNING = "running"
    LIVE = "live"
    REJECTED = "rejected"  # moderation block, review rejected or timed out
    REJECTED_QA = "rejected_qa"  # the QA gate failed: nothing was deployed
    FAILED = "failed"  # QA gate, health check before switch, infrastructure
    ROLLED_BACK = "rolled_back"  # failed its health check after the switch

    @property
    def finished(self) -> bool:
        """True once the deployment has ended, whichever way."""
        return self not in (DeploymentOutcome.PENDING, DeploymentOutcome.RUNNING)


# --- signals -----------------------------------------------------------------


class DeployRequest(BaseModel):
    """Signal ``deploy`` of AppWorkflow: deploy a prompt or an uploaded bundle.

    ``request_id`` is the idempotency key: a repeated signal with the same id
    is ignored, and the deployment's workflow id is derived from it.
    """

    kind: Literal["deploy"] = "deploy"
    request_id: str = Field(pattern=REQUEST_ID_PATTERN)
    owner_id: str = Field(min_length=1, max_length=128)
    prompt: str | None = None
    bundle_hash: str | None = Field(default=None, pattern=SHA256_PATTERN)
    qa_policy: QAPolicy | None = Field(
        default=None, description="QA thresholds for this deployment (default: the platform's)"
    )
    generation_repairs: int | None = Field(
        default=None,
        ge=0,
        le=MAX_GENERATION_REPAIRS,
        description="repairs of a generated bundle that fails the QA gate (None: the worker's"
        " MB_GENERATION_REPAIRS; 0: none); a hand-written bundle is never repaired",
    )

    @field_validator("prompt")
    @classmethod
    def _prompt_rules(cls, value: str | None) -> str | None:
        return None if value is None else validate_prompt(value)

    @model_validator(mode="after")
    def _one_source(self) -> DeployRequest:
        if self.bundle_hash is None and self.prompt is None:
            raise ValueError("a deployment needs a prompt or a bundle")
        return self


class RollbackRequest(BaseModel):
    """Signal ``rollback`` of AppWorkflow: go back to ``to_version`` or the previous release."""

    kind: Literal["rollback"] = "rollback"
    request_id: str = Field(pattern=REQUEST_ID_PATTERN)
    to_version: int | None = Field(default=None, ge=1)
    requested_by: str = Field(min_length=1, max_length=128)
    reason: str = Field(default="", max_length=1000)


class RefreshRequest(BaseModel):
    """Signal ``refresh`` of AppWorkflow: roll the live release onto a new instance
    (start, health check, switch, drain the old one), e.g. after one of its secrets changed."""

    kind: Literal["refresh"] = "refresh"
    request_id: str = Field(pattern=REQUEST_ID_PATTERN)
    requested_by: str = Field(min_length=1, max_length=128)
    secrets: list[str] = Field(default=[], max_length=100, description="what changed (names)")
    reason: str = Field(default="", max_length=1000)
    lost_host: str | None = Field(
        default=None,
        pattern=HOST_NAME_PATTERN,
        description="the app moves off this lost host: its instance there is not stopped"
        " (nothing answers that host's queue; fencing stops it when the host returns)",
    )


class RetireRequest(BaseModel):
    """Signal ``retire`` of AppWorkflow: take the app offline for good (the app was
    deleted): clear its route, stop its live instance, drop what is queued, end."""

    kind: Literal["retire"] = "retire"
    request_id: str = Field(pattern=REQUEST_ID_PATTERN)
    requested_by: str = Field(min_length=1, max_length=128)
    reason: str = Field(default="", max_length=1000)


class ReviewDecision(BaseModel):
    """Signal ``review`` (AppWorkflow forwards it to the waiting DeploymentWorkflow)."""

    decision: Literal["approve", "reject"]
    reviewer: str = Field(min_length=1, max_length=128)
    reason: str = Field(default="", max_length=1000)
    deployment_id: str | None = Field(
        default=None, description="which deployment (AppWorkflow signal only; default: current)"
    )


# --- records -------------------------------------------------------------------


class ReleaseRecord(BaseModel):
    """A version of an app that was put live."""

    version: int = Field(ge=1)
    deployment_id: str
    bundle_hash: str
    host: str
    instance_id: str
    socket_path: str
    created_at: datetime
    evidence_id: str | None = Field(default=None, description="the signed QA evidence")
    secrets: list[str] | None = Field(
        default=None,
        description="the secret names its bundle declares (None: recorded before releases"
        " carried them)",
    )


AttemptVerdict = Literal["pending", "pass", "fail", "unchanged", "blocked", "repair_failed"]
MAX_ATTEMPT_SUMMARY_CHARS = 1000


class GenerationAttempt(BaseModel):
    """One bundle of a prompt deployment and what the QA gate made of it.

    Attempt 1 is the generated bundle; each later attempt is the generator's repair of
    the one before, given that attempt's QA findings. Verdicts: ``pending`` (being
    repaired or judged), ``pass``/``fail`` (the gate's), ``unchanged`` (the repair gave
    back a bundle already judged, so it was not judged again and repairing stopped),
    ``blocked`` (moderation refused what the repaired app shows, or its reviewer did),
    ``repair_failed`` (the generator could not repair it; the last verdict stands).
    """

    attempt: int = Field(ge=1)
    bundle_hash: str | None = Field(default=None, description="None until the repair returns")
    report_hash: str | None = Field(default=None, description="its QA report, once judged")
    verdict: AttemptVerdict = "pending"
    summary: str = Field(default="", max_length=MAX_ATTEMPT_SUMMARY_CHARS)


class StageTiming(BaseModel):
    """Wall-clock span of one stage, from workflow time (deterministic)."""

    stage: Stage
    started_at: datetime
    finished_at: datetime

    @property
    def seconds(self) -> float:
        """Duration of the stage."""
        return (self.finished_at - self.started_at).total_seconds()


class DeploymentSummary(BaseModel):
    """One deployment as the AppWorkflow sees it (query ``status``)."""

    deployment_id: str
    workflow_id: str
    version: int | None = None
    source: Literal["prompt", "bundle"]
    outcome: DeploymentOutcome = DeploymentOutcome.PENDING
    error_type: str | None = None
    message: str = ""
    requested_at: datetime
    finished_at: datetime | None = None
    attempts: list[GenerationAttempt] = Field(
        default=[], description="the bundles judged, when the generator repaired any"
    )


class RollbackSummary(BaseModel):
    """A rollback the AppWorkflow carried out or refused."""

    request_id: str
    from_version: int | None
    to_version: int | None
    ok: bool
    message: str
    at: datetime


class RefreshSummary(BaseModel):
    """A refresh of the live release the AppWorkflow carried out or refused."""

    request_id: str
    version: int | None
    instance_id: str | None = None
    done: bool = False
    ok: bool
    message: str
    at: datetime


# --- workflow inputs and outputs ------------------------------------------------


class DeploymentInput(BaseModel):
    """Input of DeploymentWorkflow (a child of AppWorkflow, or started directly)."""

    app_id: str
    owner_id: str
    deployment_id: str
    version: int = Field(ge=1)
    prompt: str | None = None
    bundle_hash: str | None = None
    previous: ReleaseRecord | None = Field(default=None, description="the live release, if any")
    review_timeout_s: float = Field(default=24 * 3600, gt=0)
    qa_policy: QAPolicy | None = None
    watch_checks: int = Field(default=3, ge=1, description="health checks after the switch")
    watch_interval_s: float = Field(default=1.0, gt=0)
    generation_repairs: int | None = Field(
        default=None,
        ge=0,
        le=MAX_GENERATION_REPAIRS,
        description="repairs of a generated bundle that fails the QA gate (None: the worker's"
        " MB_GENERATION_REPAIRS; 0: none); a hand-written bundle is never repaired",
    )


class DeploymentResult(BaseModel):
    """A deployment that went live."""

    deployment_id: str
    release: ReleaseRecord
    qa_report_hash: str
    timings: list[StageTiming]
    attempts: list[GenerationAttempt] = Field(
        default=[], description="every bundle judged (prompt deployments), the live one last"
    )


class DeploymentStatus(BaseModel):
    """Query ``status`` of DeploymentWorkflow."""

    deployment_id: str
    app_id: str
    version: int
    stage: Stage
    awaiting_review: bool
    moderation_verdict: str | None = None
    moderation_reason: str | None = None
    bundle_hash: str | None = None
    qa_report_hash: str | None = None
    qa_stages: list[QAStageOutcome] = []
    timings: list[StageTiming] = []
    attempts: list[GenerationAttempt] = Field(
        default=[], description="every bundle judged (prompt deployments), oldest first"
    )
    repairs_allowed: int | None = Field(
        default=None, description="how many repairs this deployment may make, once known"
    )


class AppState(BaseModel):
    """Everything AppWorkflow carries across continue-as-new."""

    releases: list[ReleaseRecord] = Field(default=[], description="newest last, bounded")
    live_version: int | None = None
    next_version: int = 1
    deployments: list[DeploymentSummary] = Field(default=[], description="newest last, bounded")
    rollbacks: list[RollbackSummary] = []
    refreshes: list[RefreshSummary] = []
    next_generation: int = 1
    pending: list[
        Annotated[
            DeployRequest | RollbackRequest | RefreshRequest | RetireRequest,
            Field(discriminator="kind"),
        ]
    ] = []
    seen_request_ids: list[str] = Field(default=[], description="bounded, for idempotency")
    status_seq: int = Field(
        default=0, ge=0, description="the sequence number of the last status published"
    )


class AppWorkflowInput(BaseModel):
    """Input of AppWorkflow (``app-<app_id>``)."""

    app_id: str
    owner_id: str
    state: AppState = AppState()
    review_timeout_s: float = Field(default=24 * 3600, gt=0)
    max_history_events: int = Field(
        default=5000, ge=100, description="continue-as-new once history is this long"
    )
    watch_checks: int = Field(default=3, ge=1, description="health checks after each switch")
    watch_interval_s: float = Field(default=1.0, gt=0, description="seconds between them")


class AppStatus(BaseModel):
    """Query ``status`` of AppWorkflow."""

    app_id: str
    owner_id: str
    live: ReleaseRecord | None
    current_deployment: DeploymentSummary | None
    pending: int
    deployments: list[DeploymentSummary]
    rollbacks: list[RollbackSummary]
    refreshes: list[RefreshSummary] = []

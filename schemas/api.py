"""Bodies of the HTTP API (requests and public responses)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from schemas.deployment import (
    APP_ID_PATTERN,
    REQUEST_ID_PATTERN,
    AppStatus,
    DeploymentStatus,
    DeploymentSummary,
    validate_prompt,
)
from schemas.generation import MAX_GENERATION_REPAIRS
from schemas.qa import QAPolicy
from schemas.text import refuse_control_characters


class DeploymentCreate(BaseModel):
    """``POST /v1/apps/{app_id}/deployments``: a prompt, or a bundle as path -> text."""

    model_config = ConfigDict(extra="forbid")

    prompt: str | None = Field(default=None, description="what the app should do")
    bundle: dict[str, str] | None = Field(
        default=None, description="a hand-written bundle: file path -> UTF-8 content"
    )
    qa: QAPolicy | None = Field(
        default=None, description="QA thresholds for this deployment (default: the platform's)"
    )
    idempotency_key: str | None = Field(
        default=None,
        pattern=REQUEST_ID_PATTERN,
        description="repeat a request with the same key to get the same deployment",
    )
    repairs: int | None = Field(
        default=None,
        ge=0,
        le=MAX_GENERATION_REPAIRS,
        description="times a generated bundle that fails the QA gate goes back to the"
        " generator with the findings (prompts only; default and most: the platform's"
        " MB_GENERATION_REPAIRS; 0: never)",
    )

    @field_validator("prompt")
    @classmethod
    def _prompt_rules(cls, value: str | None) -> str | None:
        return None if value is None else validate_prompt(value)

    @field_validator("bundle")
    @classmethod
    def _bundle_text(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        for path, content in (value or {}).items():
            refuse_control_characters(content, f"bundle file {path[:200]!r}")
        return value

    @model_validator(mode="after")
    def _exactly_one_source(self) -> DeploymentCreate:
        if (self.prompt is None) == (self.bundle is None):
            raise ValueError("give exactly one of 'prompt' or 'bundle'")
        if self.bundle is not None and self.repairs is not None:
            raise ValueError(
                "'repairs' applies to prompts: a hand-written bundle is never rewritten"
            )
        return self


class DeploymentAccepted(BaseModel):
    """A queued deployment and where to follow it."""

    app_id: str
    deployment_id: str
    workflow_id: str
    status_url: str
    app_url: str
    temporal_ui_url: str


class RollbackCreate(BaseModel):
    """``POST /v1/apps/{app_id}/rollback``."""

    model_config = ConfigDict(extra="forbid")

    to_version: int | None = Field(default=None, ge=1, description="default: the previous one")
    reason: str = Field(default="", max_length=1000)

    @field_validator("reason")
    @classmethod
    def _plain_reason(cls, value: str) -> str:
        return refuse_control_characters(value, "reason")


class RollbackAccepted(BaseModel):
    """A queued rollback."""

    app_id: str
    target_version: int
    request_id: str


class DeploymentView(BaseModel):
    """One deployment: the workflow's own status plus the app's summary of it."""

    status: DeploymentStatus | None
    summary: DeploymentSummary
    queue_position: int | None = Field(
        default=None,
        description="while its QA gate waits for a worker's cores: its place in the queue"
        " (1: admitted next); None when it is not waiting",
    )


class AppView(BaseModel):
    """An app: its AppWorkflow status and its public URL."""

    app_url: str
    status: AppStatus


class ErrorBody(BaseModel):
    """Every 4xx/5xx answer: a human-readable reason."""

    detail: str


class AppCreate(BaseModel):
    """``POST /v1/apps``: reserve an app id before its first deployment."""

    model_config = ConfigDict(extra="forbid")

    app_id: str = Field(pattern=APP_ID_PATTERN, description="lowercase slug, 3-40 characters")


class ReviewCreate(BaseModel):
    """``POST /v1/review/{app_id}/{deployment_id}``: an operator's decision."""

    model_config = ConfigDict(extra="forbid")

    decision: Literal["approve", "reject"]
    reason: str = Field(min_length=1, max_length=1000, description="why (audited)")

    @field_validator("reason")
    @classmethod
    def _plain_reason(cls, value: str) -> str:
        return refuse_control_characters(value, "reason")


class AppDeleted(BaseModel):
    """The app is gone from the API; its instance stops as soon as its workflow gets there."""

    app_id: str
    stopping: bool = Field(description="whether a running AppWorkflow was told to go offline")

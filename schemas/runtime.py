"""Runtime inputs and outputs: start, health-check, switch and stop app instances."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

InstanceState = Literal["running", "stopped", "missing"]


class StartInstanceInput(BaseModel):
    """Start (or find already running) the instance of one release."""

    app_id: str
    version: int = Field(ge=1)
    bundle_hash: str
    generation: int = Field(default=0, ge=0, description="> 0: a refreshed instance")


class InstanceInfo(BaseModel):
    """A running app instance on a runtime host."""

    instance_id: str = Field(description="'<app_id>-v<version>', unique per host")
    app_id: str
    version: int
    host: str
    socket_path: str
    health_path: str = "/health"
    pid: int | None = None
    started_at: float | None = Field(default=None, description="unix time the instance started")


class HealthCheckInput(BaseModel):
    """Probe an instance's health path through its socket."""

    instance_id: str
    socket_path: str
    path: str = "/health"
    attempts: int = Field(default=20, ge=1)
    interval_s: float = Field(default=0.25, gt=0)


class HealthCheckResult(BaseModel):
    """Outcome of a health probe."""

    healthy: bool
    status_code: int | None = None
    detail: str = ""


class SwitchTrafficInput(BaseModel):
    """Point the gateway route of an app at an instance (atomic, idempotent per request)."""

    app_id: str
    owner_id: str
    version: int
    instance_id: str
    socket_path: str
    host: str
    reason: str
    request_id: str = Field(description="idempotency key: a retried switch changes nothing")
    rollback: Literal["by_hand", "automatic"] | None = Field(
        default=None, description="a switch back to an earlier release (an incident)"
    )
    actor: str = Field(default="pipeline", description="who asked for the switch")


class SwitchTrafficResult(BaseModel):
    """The version the route pointed at before the switch."""

    previous_version: int | None = None


class ClearRouteInput(BaseModel):
    """Take an app offline (its only release failed after the switch)."""

    app_id: str
    reason: str
    request_id: str


class RecordReleaseInput(BaseModel):
    """Record a release that passed its watch window (idempotent per deployment)."""

    app_id: str
    owner_id: str
    version: int
    deployment_id: str
    bundle_hash: str
    host: str
    instance_id: str
    socket_path: str
    evidence_id: str | None = None


class StopInstanceInput(BaseModel):
    """Stop an instance after letting in-flight requests finish."""

    instance_id: str
    drain_s: float | None = Field(default=None, ge=0, description="None: the host's setting")


class RuntimeHost(BaseModel):
    """The runtime host chosen for a release, and its worker-specific task queue."""

    host: str
    task_queue: str

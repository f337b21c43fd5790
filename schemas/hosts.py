"""Runtime hosts and placement: what a host registers, what operators see, what the
placement activity is asked."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

HOST_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$"
"""A runtime host's name: it becomes part of a task queue name (``mb-runtime-<name>``)."""

HostState = Literal["active", "draining", "drained", "lost"]
"""``lost``: its heartbeat stopped with apps routed to it; it stays lost (no new app)
until an operator undrains it."""


class HostCapacity(BaseModel):
    """What a host can hold: apps, memory, and the memory limit of each of its apps."""

    max_apps: int = Field(ge=0)
    memory_mib: int = Field(ge=0)
    app_memory_mib: int = Field(gt=0)


class RuntimeHostView(BaseModel):
    """A registered host as operators see it (``mb hosts``, ``GET /v1/hosts``)."""

    name: str
    state: HostState
    apps: int = Field(description="apps routed to it or placed on it for their roll-out")
    max_apps: int
    memory_mib: int
    app_memory_mib: int
    registered_at: datetime
    heartbeat_at: datetime
    heartbeat_age_s: float
    live: bool = Field(description="its heartbeat is fresh (MB_HOST_DEAD_AFTER_S)")


class PlacementRequest(BaseModel):
    """Input of ``select_runtime_host`` from AppWorkflow (DeploymentWorkflow sends only
    the app id, a plain string, which the activity still takes).

    ``prefer`` lists hosts to keep when they qualify, best first: for a rollback or a
    refresh, the host the release last ran on, which still holds its environment
    (virtualenv cache, Docker image).
    """

    app_id: str
    prefer: list[str] = Field(default=[], max_length=10)

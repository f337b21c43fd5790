"""Roll-out steps shared by DeploymentWorkflow and AppWorkflow (rollback, refresh).

Each step function is one activity call with its timeout and retry policy, so the
workflows read like the story of the pipeline; :func:`bring_up` is the one
sequence they all follow to put an instance in front of users: start it, check
its health (stopping it if it fails), switch traffic to it, and stop the instance
it replaced. Runtime activities run on the worker-specific task queue of the host
that holds (or will hold) the app.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from schemas.deployment import Stage
    from schemas.hosts import PlacementRequest
    from schemas.runtime import (
        ClearRouteInput,
        HealthCheckInput,
        HealthCheckResult,
        InstanceInfo,
        RuntimeHost,
        StartInstanceInput,
        StopInstanceInput,
        SwitchTrafficInput,
        SwitchTrafficResult,
    )
    from temporal import names

RUNTIME_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=30),
    maximum_attempts=5,
    non_retryable_error_types=[names.ERROR_APP_START_FAILED, names.ERROR_EVIDENCE_INVALID],
)
"""Runtime hosts: a few quick retries; an app that crashes at start is a verdict."""

DATABASE_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=30),
    maximum_attempts=40,
)
"""Route and release writes: keep trying through a database outage (about 15 min)."""

PLACEMENT_RETRY = RetryPolicy(maximum_interval=timedelta(seconds=30), maximum_attempts=20)
"""Placement reads and writes PostgreSQL; "no host fits" is final (non-retryable)."""


async def select_host(request: PlacementRequest | str) -> RuntimeHost:
    """Place a release: the host for an app (``request``: its id alone for a deployment,
    or with the hosts to prefer)."""
    host: RuntimeHost = await workflow.execute_activity(
        names.ACTIVITY_SELECT_HOST,
        request,
        result_type=RuntimeHost,
        start_to_close_timeout=timedelta(seconds=30),
        retry_policy=PLACEMENT_RETRY,
    )
    return host


async def start_instance(
    task_queue: str, *, app_id: str, version: int, bundle_hash: str, generation: int = 0
) -> InstanceInfo:
    """Start a release's instance on its host (idempotent: finds it if running)."""
    instance: InstanceInfo = await workflow.execute_activity(
        names.ACTIVITY_START_INSTANCE,
        StartInstanceInput(
            app_id=app_id, version=version, bundle_hash=bundle_hash, generation=generation
        ),
        result_type=InstanceInfo,
        task_queue=task_queue,
        start_to_close_timeout=timedelta(minutes=10),
        heartbeat_timeout=timedelta(seconds=30),
        retry_policy=RUNTIME_RETRY,
    )
    return instance


async def check_health(
    task_queue: str, instance: InstanceInfo, *, attempts: int = 40, interval_s: float = 0.25
) -> HealthCheckResult:
    """Probe the instance's health path until it answers 2xx or attempts run out."""
    health: HealthCheckResult = await workflow.execute_activity(
        names.ACTIVITY_HEALTH_CHECK,
        HealthCheckInput(
            instance_id=instance.instance_id,
            socket_path=instance.socket_path,
            path=instance.health_path,
            attempts=attempts,
            interval_s=interval_s,
        ),
        result_type=HealthCheckResult,
        task_queue=task_queue,
        # its own probing budget plus slack: a worker that died mid-check costs no more
        start_to_close_timeout=timedelta(seconds=attempts * interval_s + 30),
        retry_policy=RUNTIME_RETRY,
    )
    return health


async def stop_instance(task_queue: str, instance_id: str) -> None:
    """Drain and stop an instance on its host (idempotent)."""
    await workflow.execute_activity(
        names.ACTIVITY_STOP_INSTANCE,
        StopInstanceInput(instance_id=instance_id),
        task_queue=task_queue,
        start_to_close_timeout=timedelta(minutes=2),
        retry_policy=RUNTIME_RETRY,
    )


async def switch_traffic(
    *,
    app_id: str,
    owner_id: str,
    instance: InstanceInfo,
    reason: str,
    request_id: str,
    rollback: Literal["by_hand", "automatic"] | None = None,
    actor: str = "pipeline",
) -> int | None:
    """Point the gateway at ``instance`` atomically; returns the version it replaced."""
    result: SwitchTrafficResult = await workflow.execute_activity(
        names.ACTIVITY_SWITCH_TRAFFIC,
        SwitchTrafficInput(
            app_id=app_id,
            owner_id=owner_id,
            version=instance.version,
            instance_id=instance.instance_id,
            socket_path=instance.socket_path,
            host=instance.host,
            reason=reason,
            request_id=request_id,
            rollback=rollback,
            actor=actor,
        ),
        result_type=SwitchTrafficResult,
        task_queue=names.PIPELINE_TASK_QUEUE,
        start_to_close_timeout=timedelta(seconds=30),
        retry_policy=DATABASE_RETRY,
    )
    return result.previous_version


async def clear_route(*, app_id: str, reason: str, request_id: str) -> None:
    """Take the app offline (nothing healthy to serve it)."""
    await workflow.execute_activity(
        names.ACTIVITY_CLEAR_ROUTE,
        ClearRouteInput(app_id=app_id, reason=reason, request_id=request_id),
        task_queue=names.PIPELINE_TASK_QUEUE,
        start_to_close_timeout=timedelta(seconds=30),
        retry_policy=DATABASE_RETRY,
    )


@dataclass(frozen=True)
class Switch:
    """How the route change is recorded: who, why, and its idempotency key."""

    owner_id: str
    reason: str
    request_id: str
    rollback: Literal["by_hand", "automatic"] | None = None
    actor: str = "pipeline"


@dataclass(frozen=True)
class Live:
    """The instance started, passed its health check and now serves the app."""

    instance: InstanceInfo


@dataclass(frozen=True)
class NotLive:
    """The instance did not go live and traffic did not move: why, at which step."""

    step: Literal["start", "health"]
    detail: str


async def bring_up(
    queue: str,
    *,
    app_id: str,
    version: int,
    bundle_hash: str,
    switch: Switch,
    generation: int = 0,
    retire: tuple[str, str] | None = None,
    enter: Callable[[Stage], Awaitable[None]] | None = None,
) -> Live | NotLive:
    """Start a release's instance on its host, check its health (stopping it if it
    fails), switch traffic to it, then stop ``retire`` (its task queue and instance id)
    when given. ``enter`` hears the health-check and switch stages as they begin."""
    try:
        instance = await start_instance(
            queue, app_id=app_id, version=version, bundle_hash=bundle_hash, generation=generation
        )
    except ActivityError as err:
        return NotLive("start", cause_of(err))
    if enter is not None:
        await enter(Stage.HEALTH_CHECKING)
    health = await check_health(queue, instance)
    if not health.healthy:
        await stop_instance(queue, instance.instance_id)
        return NotLive("health", health.detail)
    if enter is not None:
        await enter(Stage.SWITCHING)
    await switch_traffic(
        app_id=app_id,
        owner_id=switch.owner_id,
        instance=instance,
        reason=switch.reason,
        request_id=switch.request_id,
        rollback=switch.rollback,
        actor=switch.actor,
    )
    if retire is not None:
        await stop_instance(*retire)
    return Live(instance)


def cause_of(err: BaseException) -> str:
    """The innermost message of an activity failure (for the verdict text)."""
    while err.__cause__ is not None:
        err = err.__cause__
    return str(err)

"""Fault: the worker is SIGKILLed at stage boundaries and in the middle of mutation testing.

One deployment survives four kills: as generation starts, while mutmut is
running, as the instance starts, and after the traffic switch. A fresh worker
takes over each time; at the end exactly one release exists, every side effect
happened once, and no sandbox of a dead worker is left behind.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import pytest
from temporalio.api.enums.v1 import EventType, PendingActivityState

from schemas.deployment import Stage
from store.releases import ReleaseRepository
from temporal import names
from tests.faults.conftest import (
    deployment_stage,
    running_instances,
    sandbox_processes,
    wait_for,
)
from tests.integration.conftest import Stack

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]


def _kill_worker(stack: Stack) -> None:
    victim = stack.workers[-1]
    os.killpg(victim.pid, signal.SIGKILL)
    victim.wait()
    stack.start_worker()


async def _mutation_running(stack: Stack, workflow_id: str, for_s: float) -> bool:
    """mutmut has been running for at least ``for_s`` seconds (the server's start time)."""
    description = await stack.client.get_workflow_handle(workflow_id).describe()
    for pending in description.raw_description.pending_activities:
        if (
            pending.activity_type.name == names.ACTIVITY_RUN_MUTATION
            and pending.state == PendingActivityState.PENDING_ACTIVITY_STATE_STARTED
        ):
            started = pending.last_started_time.ToDatetime(tzinfo=UTC)
            return (datetime.now(UTC) - started).total_seconds() >= for_s
    return False


@pytest.mark.reliability(
    "Worker killed (SIGKILL)",
    done=(
        "SIGKILL the worker as generation starts, 2 s into mutmut, as the instance starts and "
        "after the traffic switch; start a fresh worker each time"
    ),
)
async def test_a_deployment_survives_the_worker_being_killed_four_times(stack: Stack) -> None:
    """The deployment goes live; mutation ran again on the new worker; exactly one release, QA
    report, evidence row and traffic switch; one running instance; no QA sandbox outlived its
    worker."""
    app_id = "kill-test"
    deployment_id, workflow_id = await stack.deploy(app_id, "a guestbook for our wedding")
    killed_at: list[str] = []

    async def kill_when(point: str, check: Callable[[], Awaitable[bool]]) -> None:
        await wait_for(point, check)
        _kill_worker(stack)
        killed_at.append(point)

    async def stage_in(*stages: Stage) -> bool:
        return await deployment_stage(stack, workflow_id) in stages

    await kill_when("generating", lambda: stage_in(Stage.GENERATING))
    await kill_when("mid-mutation", lambda: _mutation_running(stack, workflow_id, for_s=2))
    await kill_when("deploying", lambda: stage_in(Stage.DEPLOYING, Stage.HEALTH_CHECKING))
    await kill_when(
        "after the switch", lambda: stage_in(Stage.WATCHING, Stage.RECORDING, Stage.LIVE)
    )
    assert killed_at == ["generating", "mid-mutation", "deploying", "after the switch"]

    await stack.outcome(app_id, deployment_id, within=420)
    assert "Wedding" in await stack.page(app_id)

    # The mutation stage really was interrupted and run again by another worker.
    history = await stack.client.get_workflow_handle(workflow_id).fetch_history()
    scheduled = {
        e.event_id: e.activity_task_scheduled_event_attributes.activity_type.name
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
    }
    mutation_attempts = [
        e.activity_task_started_event_attributes.attempt
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED
        and scheduled[e.activity_task_started_event_attributes.scheduled_event_id]
        == names.ACTIVITY_RUN_MUTATION
    ]
    assert mutation_attempts and max(mutation_attempts) >= 2, mutation_attempts

    # Every side effect happened exactly once.
    assert await ReleaseRepository(stack.db).count_for_deployment(deployment_id) == 1
    async with stack.db.connection() as conn:
        counts = await (
            await conn.execute(
                "SELECT"
                " (SELECT count(*) FROM qa_reports WHERE deployment_id = %(d)s) AS qa_reports,"
                " (SELECT count(*) FROM qa_evidence WHERE deployment_id = %(d)s) AS evidence,"
                " (SELECT count(*) FROM route_events WHERE app_id = %(a)s) AS switches",
                {"d": deployment_id, "a": app_id},
            )
        ).fetchone()
    assert counts == {"qa_reports": 1, "evidence": 1, "switches": 1}

    # One instance of the app, the routed one; no sandbox outlived its worker.
    assert [i.version for i in await running_instances(stack, app_id)] == [1]
    await wait_for(
        "the dead workers' QA sandboxes gone",
        lambda: _no_qa_sandboxes(stack),
        within=30,
    )
    # bubblewrap forks (its monitor and the sandbox's pid 1 share one command line)
    app_sandboxes = {tuple(argv) for _, argv in sandbox_processes(stack.data_dir)}
    assert len(app_sandboxes) == len(await running_instances(stack))


async def _no_qa_sandboxes(stack: Stack) -> bool:
    return not [
        pid for pid, argv in sandbox_processes(stack.data_dir) if "--die-with-parent" in argv
    ]

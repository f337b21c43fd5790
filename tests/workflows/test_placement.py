"""Placement in the workflows (time-skipping server, scripted activities): a deployment
no host can take ends with placement's reason as its verdict; a rollback and a refresh
ask placement for a host, preferring the one their release ran on, and change nothing
when there is none."""

from __future__ import annotations

import uuid

from temporalio.testing import WorkflowEnvironment

from pipeline.operations import app_status, request_rollback
from schemas.deployment import DeploymentOutcome, RefreshRequest, RollbackRequest
from temporal import names
from tests.workflows.pipeline_fakes import HOST, FakePipeline
from tests.workflows.test_pipeline_workflows import (
    _deploy,
    _eventually,
    _failure,
    _result,
    _settled,
)

FULL = "no runtime host has capacity: alpha: 4/4 apps; beta: draining"


async def test_a_deployment_no_host_can_take_fails_with_the_reason(
    env: WorkflowEnvironment, fake: FakePipeline, workers: FakePipeline
) -> None:
    fake.no_host = FULL
    failure = await _failure(env.client, await _deploy(env.client, "homeless", "a poll"))
    assert failure.type == names.ERROR_NO_RUNTIME_HOST and failure.message == FULL
    (summary,) = (await _settled(env.client, "homeless")).deployments
    assert summary.outcome is DeploymentOutcome.FAILED
    assert summary.error_type == names.ERROR_NO_RUNTIME_HOST and summary.message.endswith(FULL)
    assert not any(c.startswith("start:") for c in workers.calls)


async def test_rollback_and_refresh_prefer_the_host_their_release_ran_on(
    env: WorkflowEnvironment, workers: FakePipeline
) -> None:
    await _two_releases_then_roll_back_and_refresh(env, "mover")

    async def both_done() -> bool:
        status = await app_status(env.client, "mover")
        return bool(status.rollbacks and status.rollbacks[-1].ok) and any(
            r.done and r.ok for r in status.refreshes
        )

    await _eventually(both_done)
    assert workers.calls.count(f"place:mover:{HOST}") == 2
    placed = workers.calls.index(f"place:mover:{HOST}")
    assert placed < workers.calls.index("start:mover-v1", placed)  # placed, then started
    status = await app_status(env.client, "mover")
    assert status.live is not None and status.live.host == HOST
    assert workers.routes["mover"] == status.live.instance_id == "mover-v1-r1"


async def test_a_rollback_or_refresh_with_no_host_changes_nothing(
    env: WorkflowEnvironment, fake: FakePipeline, workers: FakePipeline
) -> None:
    await _two_releases_then_roll_back_and_refresh(env, "stayer", fake, no_host=FULL)

    async def both_done() -> bool:
        status = await app_status(env.client, "stayer")
        return bool(status.rollbacks and status.rollbacks[-1].message) and any(
            r.done for r in status.refreshes
        )

    await _eventually(both_done)
    status = await app_status(env.client, "stayer")
    assert status.rollbacks[-1].message == f"v1 cannot be placed ({FULL}); nothing changed"
    assert status.refreshes[-1].message == f"v2 cannot be placed ({FULL}); still serving"
    assert not status.rollbacks[-1].ok and not status.refreshes[-1].ok
    assert status.live is not None and status.live.version == 2
    assert workers.routes["stayer"] == "stayer-v2" and "stayer-v2" in workers.running


async def _two_releases_then_roll_back_and_refresh(
    env: WorkflowEnvironment, app_id: str, fake: FakePipeline | None = None, no_host: str = ""
) -> None:
    """Deploy v1 and v2, then (placement refusing with ``no_host`` when given) ask for a
    rollback and a refresh."""
    await _result(env.client, await _deploy(env.client, app_id, "a poll"))
    await _result(env.client, await _deploy(env.client, app_id, "a poll, v2"))
    await _settled(env.client, app_id)
    if fake is not None:
        fake.no_host = no_host
    await request_rollback(
        env.client, app_id, RollbackRequest(request_id=uuid.uuid4().hex, requested_by="ops")
    )
    await env.client.get_workflow_handle(names.app_workflow_id(app_id)).signal(
        names.SIGNAL_REFRESH, RefreshRequest(request_id=uuid.uuid4().hex, requested_by="drain")
    )


async def test_a_move_off_a_lost_host_starts_again_and_never_stops_there(
    env: WorkflowEnvironment, workers: FakePipeline
) -> None:
    """Placement runs (the lost host is never chosen: tests/store), the release starts
    again and takes the route, and no stop is sent to the lost host's queue, where
    nothing would take it; a move for a host the app no longer runs on does nothing."""
    await _result(env.client, await _deploy(env.client, "castaway", "a poll"))
    await _settled(env.client, "castaway")
    handle = env.client.get_workflow_handle(names.app_workflow_id("castaway"))
    for lost_host in (HOST, "long-gone"):
        await handle.signal(
            names.SIGNAL_REFRESH,
            RefreshRequest(
                request_id=uuid.uuid4().hex, requested_by="host-loss-detector", lost_host=lost_host
            ),
        )

    async def both_done() -> bool:
        refreshes = (await app_status(env.client, "castaway")).refreshes
        return len(refreshes) == 2 and all(r.done for r in refreshes)

    await _eventually(both_done)
    assert "stop:castaway-v1" not in workers.calls  # left to fencing
    moved, again = (await app_status(env.client, "castaway")).refreshes
    assert moved.ok and moved.message.endswith(f"(moved off the lost host {HOST})")
    assert again.ok and again.message == f"v1 already runs on {HOST}"
    assert workers.calls.count(f"place:castaway:{HOST}") == 1
    assert workers.routes["castaway"] == moved.instance_id == "castaway-v1-r1"

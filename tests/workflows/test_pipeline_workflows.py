"""AppWorkflow + DeploymentWorkflow orchestration on the time-skipping test server."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from temporalio.client import Client, WorkflowFailureError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from pipeline.operations import (
    PipelineRequestError,
    app_releases,
    app_status,
    deployment_status,
    refresh_if_declared,
    request_deployment,
    request_retire,
    request_rollback,
    submit_review,
)
from schemas.anomalies import AnomalyScanInput, AnomalyScanResult, Thresholds
from schemas.backups import BackupRunInput, BackupRunResult
from schemas.deployment import (
    AppStatus,
    AppWorkflowInput,
    DeploymentOutcome,
    DeploymentResult,
    DeployRequest,
    RefreshRequest,
    RetireRequest,
    ReviewDecision,
    RollbackRequest,
    Stage,
)
from schemas.qa import QAGateTicket
from store.artifacts import ArtifactStore
from store.bundle_cache import BundleCache
from store.db import Database
from temporal import names
from tests.workflows.pipeline_fakes import FakePipeline

OWNER = "user-1"


def _request(prompt: str) -> DeployRequest:
    return DeployRequest(request_id=uuid.uuid4().hex, owner_id=OWNER, prompt=prompt)


async def _deploy(client: Client, app_id: str, prompt: str, **kw: float) -> str:
    return await request_deployment(client, app_id, _request(prompt), **kw)


async def _started(client: Client, workflow_id: str) -> None:
    """Deployments start when their AppWorkflow dequeues them; wait for that."""

    async def exists() -> bool:
        try:
            await client.get_workflow_handle(workflow_id).describe()
        except RPCError:
            return False
        return True

    await _eventually(exists)


async def _result(client: Client, workflow_id: str) -> DeploymentResult:
    await _started(client, workflow_id)
    result: DeploymentResult = await client.get_workflow_handle(
        workflow_id, result_type=DeploymentResult
    ).result()
    return result


async def _failure(client: Client, workflow_id: str) -> ApplicationError:
    await _started(client, workflow_id)
    with pytest.raises(WorkflowFailureError) as info:
        await client.get_workflow_handle(workflow_id).result()
    assert isinstance(info.value.cause, ApplicationError)
    return info.value.cause


async def _eventually(check: Callable[[], Awaitable[bool]], within: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while True:
        try:
            if await check():
                return
        except (AssertionError, PipelineRequestError, RPCError):
            pass  # not there yet (a run just continued as new answers queries a bit later)
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


async def _settled(client: Client, app_id: str) -> AppStatus:
    """The app status once nothing is queued or running."""
    result: list[AppStatus] = []

    async def idle() -> bool:
        status = await app_status(client, app_id)
        result[:] = [status]
        return status.current_deployment is None and status.pending == 0

    await _eventually(idle)
    return result[0]


async def test_happy_path_goes_live_in_order(
    env: WorkflowEnvironment, workers: FakePipeline
) -> None:
    workflow_id = await _deploy(env.client, "todo-app", "a todo list for my team")
    result = await _result(env.client, workflow_id)

    assert result.release.version == 1
    assert result.release.instance_id == "todo-app-v1"
    assert result.release.evidence_id == f"ev-{workflow_id.rsplit('-', 1)[1]}"
    assert result.qa_report_hash == "e" * 64
    assert workers.calls[:3] == ["moderate", "generate", "moderate-content"]
    # The five QA stages run in parallel (any order), then one report is recorded.
    assert sorted(workers.calls[3:8]) == [
        "qa:deps",
        "qa:fuzz",
        "qa:mutation",
        "qa:static",
        "qa:tests",
    ]
    assert workers.calls[8:12] == [
        "qa:report",
        "select_host",
        "start:todo-app-v1",
        "health:todo-app-v1",
    ]
    assert workers.calls[12] == "switch:todo-app-v1"
    assert workers.calls[-1] == "record:todo-app-v1"
    assert workers.routes["todo-app"] == "todo-app-v1"
    stages = [t.stage for t in result.timings]
    assert stages == [
        Stage.MODERATING,
        Stage.GENERATING,
        Stage.TESTING,
        Stage.DEPLOYING,
        Stage.HEALTH_CHECKING,
        Stage.SWITCHING,
        Stage.WATCHING,
        Stage.RECORDING,
    ]
    status = await _settled(env.client, "todo-app")
    assert status.live is not None and status.live.version == 1
    assert status.deployments[-1].outcome is DeploymentOutcome.LIVE


async def test_blocked_prompt_is_rejected_before_any_code(
    env: WorkflowEnvironment, workers: FakePipeline
) -> None:
    workflow_id = await _deploy(env.client, "bad-app", "BLOCKME a fake bank login")
    error = await _failure(env.client, workflow_id)

    assert error.type == names.ERROR_PROMPT_BLOCKED
    assert "phishing" in str(error)
    assert workers.calls == ["moderate"]
    status = await _settled(env.client, "bad-app")
    assert status.deployments[-1].outcome is DeploymentOutcome.REJECTED
    assert status.live is None
    assert (await deployment_status(env.client, workflow_id)).stage is Stage.REJECTED


async def _wait_for_review(client: Client, workflow_id: str) -> None:
    await _started(client, workflow_id)

    async def waiting() -> bool:
        return (await deployment_status(client, workflow_id)).awaiting_review

    await _eventually(waiting)


async def test_flagged_prompt_approved_goes_live(
    env: WorkflowEnvironment, workers: FakePipeline
) -> None:
    workflow_id = await _deploy(env.client, "flag-app", "FLAGME a login page")
    await _wait_for_review(env.client, workflow_id)
    assert "generate" not in workers.calls

    await submit_review(
        env.client,
        "app-flag-app",
        ReviewDecision(decision="approve", reviewer="op@example.test", reason="own app"),
    )
    result = await _result(env.client, workflow_id)
    assert result.release.version == 1
    assert "generate" in workers.calls


async def test_flagged_prompt_rejected(env: WorkflowEnvironment, workers: FakePipeline) -> None:
    workflow_id = await _deploy(env.client, "flag-rej", "FLAGME a login page")
    await _wait_for_review(env.client, workflow_id)
    await submit_review(
        env.client,
        workflow_id,
        ReviewDecision(decision="reject", reviewer="op@example.test", reason="looks like phishing"),
    )
    error = await _failure(env.client, workflow_id)
    assert error.type == names.ERROR_REVIEW_REJECTED
    assert "looks like phishing" in str(error)
    assert "generate" not in workers.calls


async def test_flagged_prompt_times_out(env: WorkflowEnvironment, workers: FakePipeline) -> None:
    workflow_id = await _deploy(
        env.client, "flag-late", "FLAGME a login page", review_timeout_s=3600
    )
    await _wait_for_review(env.client, workflow_id)
    await env.sleep(3601)  # skips an hour of (test server) time
    error = await _failure(env.client, workflow_id)
    assert error.type == names.ERROR_REVIEW_TIMED_OUT
    assert "generate" not in workers.calls
    status = await _settled(env.client, "flag-late")
    assert status.deployments[-1].outcome is DeploymentOutcome.REJECTED


async def test_review_of_a_workflow_not_waiting_is_refused(
    env: WorkflowEnvironment, workers: FakePipeline
) -> None:
    workflow_id = await _deploy(env.client, "no-review", "a notes app")
    await _result(env.client, workflow_id)
    with pytest.raises(PipelineRequestError, match="not awaiting review") as info:
        await submit_review(
            env.client, workflow_id, ReviewDecision(decision="approve", reviewer="op")
        )
    assert info.value.status == 409


@pytest.mark.parametrize("stage", ["tests", "mutation", "fuzz", "static", "deps"])
async def test_any_failed_qa_stage_rejects_before_deploy(
    env: WorkflowEnvironment, fake: FakePipeline, workers: FakePipeline, stage: str
) -> None:
    fake.qa_verdict, fake.failing_stage = "fail", stage
    workflow_id = await _deploy(env.client, "qa-fail", "a poll")
    error = await _failure(env.client, workflow_id)
    assert error.type == names.ERROR_QA_GATE_FAILED
    assert f"{stage}: test_add failed" in str(error)
    assert "qa:report" in workers.calls  # the failing report is still recorded
    assert not any(c.startswith(("start:", "select_host")) for c in workers.calls)
    status = await _settled(env.client, "qa-fail")
    assert status.deployments[-1].outcome is DeploymentOutcome.REJECTED_QA
    deployment = await deployment_status(env.client, workflow_id)
    assert {s.stage for s in deployment.qa_stages} == {
        "tests",
        "mutation",
        "fuzz",
        "static",
        "deps",
    }


async def test_unhealthy_before_switch_keeps_old_release(
    env: WorkflowEnvironment, fake: FakePipeline, workers: FakePipeline
) -> None:
    await _result(env.client, await _deploy(env.client, "sick", "a guestbook"))
    fake.unhealthy = lambda instance_id, call: instance_id == "sick-v2"
    error = await _failure(env.client, await _deploy(env.client, "sick", "a guestbook v2"))

    assert error.type == names.ERROR_HEALTH_CHECK_FAILED
    assert "switch:sick-v2" not in workers.calls
    assert "stop:sick-v2" in workers.calls
    assert workers.routes["sick"] == "sick-v1"


@pytest.mark.reliability(
    "Fast and automatic rollback",
    done="Make the new release fail its health checks in the watch window after the switch",
)
async def test_unhealthy_after_switch_rolls_back_automatically(
    env: WorkflowEnvironment, fake: FakePipeline, workers: FakePipeline
) -> None:
    """Traffic goes back to v1 (switches v1, v2, v1), v2 is stopped, the deployment ends
    ROLLED_BACK naming v1, and v1 is live again."""
    await _result(env.client, await _deploy(env.client, "flaky", "a habit tracker"))
    # v2 passes the pre-switch check, then fails in the watch window.
    fake.unhealthy = lambda instance_id, call: instance_id == "flaky-v2" and call >= 2
    workflow_id = await _deploy(env.client, "flaky", "a habit tracker, v2")
    error = await _failure(env.client, workflow_id)

    assert error.type == names.ERROR_ROLLED_BACK
    assert "rolled back to v1" in str(error)
    assert workers.routes["flaky"] == "flaky-v1"
    assert "flaky-v2" not in workers.running and "flaky-v1" in workers.running
    switches = [c for c in workers.calls if c.startswith("switch:")]
    assert switches == ["switch:flaky-v1", "switch:flaky-v2", "switch:flaky-v1"]
    status = await _settled(env.client, "flaky")
    assert status.live is not None and status.live.version == 1
    assert status.deployments[-1].outcome is DeploymentOutcome.ROLLED_BACK


async def test_first_release_failing_after_switch_takes_app_offline(
    env: WorkflowEnvironment, fake: FakePipeline, workers: FakePipeline
) -> None:
    fake.unhealthy = lambda instance_id, call: call >= 2
    error = await _failure(env.client, await _deploy(env.client, "lonely", "a flashcards app"))
    assert error.type == names.ERROR_ROLLED_BACK
    assert "lonely" not in workers.routes
    assert "clear:lonely" in workers.calls


@pytest.mark.reliability(
    "Fast and automatic rollback",
    done="Send the rollback signal after a second release went live",
)
async def test_rollback_signal_restores_previous_release(
    env: WorkflowEnvironment, workers: FakePipeline
) -> None:
    """The previous release is started again and routed, the newer one stopped, the rollback
    is recorded as successful; a rollback with nothing older is refused (409)."""
    await _result(env.client, await _deploy(env.client, "roll", "an inventory"))
    await _result(env.client, await _deploy(env.client, "roll", "an inventory, v2"))
    await _settled(env.client, "roll")
    assert workers.routes["roll"] == "roll-v2"
    assert "roll-v1" not in workers.running  # the old release was stopped after the switch

    target = await request_rollback(
        env.client, "roll", RollbackRequest(request_id=uuid.uuid4().hex, requested_by="oncall")
    )
    assert target == 1

    async def rolled_back() -> bool:
        status = await app_status(env.client, "roll")
        return status.live is not None and status.live.version == 1

    await _eventually(rolled_back)
    assert workers.routes["roll"] == "roll-v1"
    assert "roll-v1" in workers.running and "roll-v2" not in workers.running
    status = await app_status(env.client, "roll")
    assert status.rollbacks[-1].ok and status.rollbacks[-1].to_version == 1

    # Nothing older than v1: a second rollback is refused up front and changes nothing.
    with pytest.raises(PipelineRequestError, match="no previous release") as info:
        await request_rollback(
            env.client, "roll", RollbackRequest(request_id=uuid.uuid4().hex, requested_by="oncall")
        )
    assert info.value.status == 409
    # Rolling forward to an explicit version works.
    await request_rollback(
        env.client,
        "roll",
        RollbackRequest(request_id=uuid.uuid4().hex, requested_by="oncall", to_version=2),
    )

    async def forward() -> bool:
        status = await app_status(env.client, "roll")
        return status.live is not None and status.live.version == 2

    await _eventually(forward)


async def test_rollback_of_unknown_version_is_refused(
    env: WorkflowEnvironment, workers: FakePipeline
) -> None:
    await _result(env.client, await _deploy(env.client, "one", "a notes app"))
    with pytest.raises(PipelineRequestError, match="v7 is not a release") as info:
        await request_rollback(
            env.client,
            "one",
            RollbackRequest(request_id=uuid.uuid4().hex, requested_by="x", to_version=7),
        )
    assert info.value.status == 404


async def test_deploys_are_serialised_and_deduplicated(
    env: WorkflowEnvironment, workers: FakePipeline
) -> None:
    first = _request("a todo list")
    ids = [
        await request_deployment(env.client, "serial", first),
        await request_deployment(env.client, "serial", first),  # same idempotency key
        await request_deployment(env.client, "serial", _request("a todo list v2")),
    ]
    assert ids[0] == ids[1]
    results = [await _result(env.client, ids[0]), await _result(env.client, ids[2])]
    assert [r.release.version for r in results] == [1, 2]
    status = await _settled(env.client, "serial")
    assert len(status.deployments) == 2
    starts = [c for c in workers.calls if c.startswith("start:")]
    assert starts == ["start:serial-v1", "start:serial-v2"]
    # v1 was stopped only after v2 went live (never two switches interleaved).
    assert workers.calls.index("stop:serial-v1") > workers.calls.index("record:serial-v2")


async def test_unknown_app_status_is_not_found(
    env: WorkflowEnvironment, workers: FakePipeline
) -> None:
    with pytest.raises(PipelineRequestError) as info:
        await app_status(env.client, "nope")
    assert info.value.status == 404


async def test_app_workflow_continues_as_new_and_keeps_its_state(
    env: WorkflowEnvironment, workers: FakePipeline
) -> None:
    app_id = "long-lived"
    handle = await env.client.start_workflow(
        names.APP_WORKFLOW_TYPE,
        AppWorkflowInput(
            app_id=app_id, owner_id=OWNER, max_history_events=100, watch_interval_s=0.01
        ),
        id=names.app_workflow_id(app_id),
        task_queue=names.PIPELINE_TASK_QUEUE,
    )
    first_run = (await handle.describe()).run_id
    for i in range(8):
        await _result(env.client, await _deploy(env.client, app_id, f"a todo list, take {i}"))
    # The test server starts a continued run on its own clock, which only moves
    # while someone waits on it: let it move.
    await env.sleep(1)
    status = await _settled(env.client, app_id)

    current = await env.client.get_workflow_handle(names.app_workflow_id(app_id)).describe()
    assert current.run_id != first_run, "history passed 100 events without continue-as-new"
    assert current.history_length < 100 + 40  # bounded, not growing with every deploy
    assert status.live is not None and status.live.version == 8
    releases = await app_releases(env.client, app_id)
    assert [r.version for r in releases] == list(range(1, 9))
    # The queue keeps working in the new run.
    await _result(env.client, await _deploy(env.client, app_id, "one more"))
    assert (await _settled(env.client, app_id)).live.version == 9  # type: ignore[union-attr]


async def test_rollback_to_a_release_that_cannot_start_changes_nothing(
    env: WorkflowEnvironment, fake: FakePipeline, workers: FakePipeline
) -> None:
    await _result(env.client, await _deploy(env.client, "guarded", "a poll"))
    await _result(env.client, await _deploy(env.client, "guarded", "a poll, v2"))
    await _settled(env.client, "guarded")
    fake.start_fails_for = {1}  # e.g. v1's QA evidence no longer verifies
    await request_rollback(
        env.client, "guarded", RollbackRequest(request_id=uuid.uuid4().hex, requested_by="oncall")
    )

    async def refused() -> bool:
        rollbacks = (await app_status(env.client, "guarded")).rollbacks
        return bool(rollbacks) and bool(rollbacks[-1].message)

    await _eventually(refused)
    status = await app_status(env.client, "guarded")
    assert not status.rollbacks[-1].ok
    assert "cannot start" in status.rollbacks[-1].message
    assert status.live is not None and status.live.version == 2
    assert workers.routes["guarded"] == "guarded-v2"
    # The app's workflow is still serving requests.
    await _result(env.client, await _deploy(env.client, "guarded", "a poll, v3"))
    assert (await _settled(env.client, "guarded")).live.version == 3  # type: ignore[union-attr]


async def test_refresh_rolls_the_live_release_onto_a_new_instance(
    env: WorkflowEnvironment, workers: FakePipeline
) -> None:
    await _result(env.client, await _deploy(env.client, "fresh", "an inventory"))
    await _settled(env.client, "fresh")
    handle = env.client.get_workflow_handle(names.app_workflow_id("fresh"))
    request = RefreshRequest(
        request_id=uuid.uuid4().hex, requested_by="alice", secrets=["API_TOKEN"]
    )
    await handle.signal(names.SIGNAL_REFRESH, request)
    await handle.signal(names.SIGNAL_REFRESH, request)  # a repeated request id is ignored

    async def refreshed() -> bool:
        return any(r.done for r in (await app_status(env.client, "fresh")).refreshes)

    await _eventually(refreshed)
    status = await app_status(env.client, "fresh")
    (record,) = status.refreshes
    assert record.ok and record.instance_id == "fresh-v1-r1", record
    assert status.live is not None and status.live.instance_id == "fresh-v1-r1"
    assert workers.routes["fresh"] == "fresh-v1-r1"
    # New instance started and healthy before the switch; the old one stopped only after it.
    calls = workers.calls
    order = [
        calls.index("start:fresh-v1-r1"),
        calls.index("health:fresh-v1-r1"),
        calls.index("switch:fresh-v1-r1"),
        calls.index("stop:fresh-v1"),
    ]
    assert order == sorted(order)
    assert workers.running == {"fresh-v1-r1"}


async def test_a_secret_change_refreshes_by_the_names_the_release_recorded(
    env: WorkflowEnvironment,
    fake: FakePipeline,
    workers: FakePipeline,
    db: Database,
    tmp_path: Path,
) -> None:
    """Deciding whether a changed secret restarts the app reads the live release's own
    record: the bundle store here holds nothing, so loading the bundle would fail."""
    fake.declared_secrets = ["API_TOKEN"]
    await _result(env.client, await _deploy(env.client, "named", "an inventory"))
    live = (await _settled(env.client, "named")).live
    assert live is not None and live.secrets == ["API_TOKEN"]
    empty = BundleCache(ArtifactStore(db), tmp_path / "bundles")
    assert await refresh_if_declared(env.client, empty, "named", ["OTHER"], "alice") is None
    request_id = await refresh_if_declared(
        env.client, empty, "named", ["OTHER", "API_TOKEN"], "alice"
    )
    assert request_id is not None

    async def refreshed() -> bool:
        return any(r.done for r in (await app_status(env.client, "named")).refreshes)

    await _eventually(refreshed)
    (record,) = (await app_status(env.client, "named")).refreshes
    assert record.ok and record.request_id == request_id


async def test_a_refresh_that_cannot_start_keeps_the_old_instance(
    env: WorkflowEnvironment, fake: FakePipeline, workers: FakePipeline
) -> None:
    await _result(env.client, await _deploy(env.client, "stale", "an inventory"))
    await _settled(env.client, "stale")
    fake.unhealthy = lambda instance_id, call: instance_id.endswith("-r1")
    handle = env.client.get_workflow_handle(names.app_workflow_id("stale"))
    await handle.signal(
        names.SIGNAL_REFRESH, RefreshRequest(request_id=uuid.uuid4().hex, requested_by="bob")
    )

    async def refused() -> bool:
        return any(r.done for r in (await app_status(env.client, "stale")).refreshes)

    await _eventually(refused)
    (record,) = (await app_status(env.client, "stale")).refreshes
    assert not record.ok and "still serving" in record.message
    assert workers.routes["stale"] == "stale-v1"
    assert workers.running == {"stale-v1"}


async def test_retire_takes_the_app_offline_drops_the_queue_and_ends(
    env: WorkflowEnvironment, workers: FakePipeline
) -> None:
    live = await _deploy(env.client, "retiring", "a todo list")
    assert (await _result(env.client, live)).release.version == 1
    # A deployment waits for review, another is queued behind it; then the app is deleted.
    waiting = await _deploy(env.client, "retiring", "FLAGME a login page")
    await _wait_for_review(env.client, waiting)
    queued = await _deploy(env.client, "retiring", "a todo list v3")
    retire = RetireRequest(request_id=uuid.uuid4().hex, requested_by=OWNER, reason="done")
    assert await request_retire(env.client, "retiring", retire)
    await submit_review(
        env.client,
        "app-retiring",
        ReviewDecision(decision="reject", reviewer="op@example.test", reason="no"),
    )
    handle = env.client.get_workflow_handle(names.app_workflow_id("retiring"))
    await handle.result()  # the AppWorkflow ends
    assert workers.routes.get("retiring") is None
    assert "stop:retiring-v1" in workers.calls
    assert workers.calls.index("clear:retiring") < workers.calls.index("stop:retiring-v1")
    assert not any(c.startswith("start:retiring-v3") for c in workers.calls)
    status = await app_status(env.client, "retiring")  # still answers after the end
    assert status.live is None and status.pending == 0
    dropped = next(d for d in status.deployments if d.workflow_id == queued)
    assert dropped.outcome is DeploymentOutcome.FAILED and "deleted" in dropped.message
    # A second retire finds nothing running.
    again = RetireRequest(request_id=uuid.uuid4().hex, requested_by=OWNER)
    assert not await request_retire(env.client, "retiring", again)


async def test_the_anomaly_scan_workflow_runs_the_scan_once(
    env: WorkflowEnvironment, workers: FakePipeline
) -> None:
    result = await env.client.execute_workflow(
        names.ANOMALY_SCAN_WORKFLOW_TYPE,
        AnomalyScanInput(thresholds=Thresholds(window_s=900)),
        id=f"anomaly-{uuid.uuid4().hex[:8]}",
        task_queue=names.PIPELINE_TASK_QUEUE,
        result_type=AnomalyScanResult,
    )
    assert result.new_alerts == [7]
    assert workers.calls == ["scan:900"]


async def test_a_benign_prompt_whose_app_shows_phishing_is_rejected_before_qa(
    env: WorkflowEnvironment, workers: FakePipeline
) -> None:
    workers.content_verdict = "block"
    workflow_id = await _deploy(env.client, "sneaky-app", "a page for my bank club")
    error = await _failure(env.client, workflow_id)
    assert error.type == names.ERROR_PROMPT_BLOCKED
    assert "the app's content was blocked" in str(error)
    assert workers.calls.index("moderate-content") > workers.calls.index("generate")
    assert not any(c.startswith("qa:") for c in workers.calls)
    status = await _settled(env.client, "sneaky-app")
    assert status.deployments[-1].outcome is DeploymentOutcome.REJECTED


async def test_flagged_content_waits_for_a_reviewer_even_after_the_prompt_was_approved(
    env: WorkflowEnvironment, workers: FakePipeline
) -> None:
    workers.content_verdict = "flag"
    workflow_id = await _deploy(env.client, "twice-app", "FLAGME a login page")
    await _wait_for_review(env.client, workflow_id)
    approve = ReviewDecision(decision="approve", reviewer="op@example.test", reason="prompt ok")
    await submit_review(env.client, workflow_id, approve)

    async def content_under_review() -> bool:
        status = await deployment_status(env.client, workflow_id)
        return status.awaiting_review and "content" in (status.moderation_reason or "")

    try:
        await _eventually(content_under_review)
    except AssertionError:
        raise AssertionError(
            f"{await deployment_status(env.client, workflow_id)} {workers.calls}"
        ) from None
    assert not any(c.startswith("qa:") for c in workers.calls)
    await submit_review(env.client, workflow_id, approve)
    assert (await _result(env.client, workflow_id)).release.version == 1


async def _backup(client: Client, workflow_id: str) -> BackupRunResult:
    result: BackupRunResult = await client.execute_workflow(
        names.BACKUP_WORKFLOW_TYPE,
        BackupRunInput(reason="by hand", keep=3),
        id=workflow_id,
        task_queue=names.PIPELINE_TASK_QUEUE,
        result_type=BackupRunResult,
    )
    return result


async def test_a_backup_is_verified_then_drilled_then_old_ones_pruned(
    env: WorkflowEnvironment, workers: FakePipeline
) -> None:
    result = await _backup(env.client, "backup-ok")
    assert result.verification.ok and result.drill is not None and result.drill.ok
    assert workers.calls == ["backup:by hand", "backup-verify", "backup-drill", "backup-prune:3"]


@pytest.mark.parametrize(
    ("problem", "rule"),
    [("verify", "backup_failed"), ("drill", "restore_drill_failed")],
)
async def test_a_backup_that_cannot_be_trusted_alerts_and_prunes_nothing(
    env: WorkflowEnvironment, workers: FakePipeline, problem: str, rule: str
) -> None:
    if problem == "verify":
        workers.backup_problems = ["missing WAL segment 000000010000000000000003"]
    else:
        workers.drill_problem = "recovery ended before configured recovery target was reached"
    with pytest.raises(WorkflowFailureError) as failed:
        await _backup(env.client, f"backup-{problem}")
    cause = failed.value.cause
    assert isinstance(cause, ApplicationError) and cause.type == rule and cause.non_retryable
    assert f"backup-alert:{rule}" in workers.calls
    assert not any(c.startswith("backup-prune") for c in workers.calls)
    assert workers.calls.count("backup:by hand") == 1  # a verdict, not retried


async def test_qa_stages_carry_their_gate_and_allow_for_waiting_for_it(
    env: WorkflowEnvironment, workers: FakePipeline
) -> None:
    """Every stage of one gate carries the same ticket (so a worker admits the gate as a
    unit, by owner), a repair's gate is another one, and each stage's start-to-close allows
    an hour's wait for admission on top of its own run."""
    workers.qa_verdict, workers.failing_stage, workers.repair_fixes_from = "fail", "fuzz", 2
    request = _request("a todo list for my team")
    workflow_id = await request_deployment(env.client, "gated-app", request)
    await _result(env.client, workflow_id)

    expected = QAGateTicket(app_id="gated-app", deployment_id=request.request_id, owner_id=OWNER)
    gates = [gate for _, gate, _ in workers.qa_gates]
    assert [g.attempt if g else None for g in gates] == [1] * 5 + [2] * 5  # two gates
    assert all(g == expected.model_copy(update={"attempt": g.attempt}) for g in gates if g)
    minutes = {stage: t.total_seconds() / 60 for stage, _, t in workers.qa_gates if t}
    assert minutes == {"tests": 90, "mutation": 120, "fuzz": 90, "static": 65, "deps": 65}

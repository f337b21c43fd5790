"""Signals whose input does not validate are refused and recorded; the workflow carries on;
a workflow started with an input the workers refuse fails at once instead of wedging.

Time-skipping server, scripted activities: what is checked here is the workflows'
handling. The real codec, the real ``temporal`` CLI and the real incident store are
in ``tests/faults/test_poison_signals.py``.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowFailureError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from pipeline.operations import app_status, deployment_status
from schemas.deployment import DeploymentOutcome, ReviewDecision, RollbackRequest
from schemas.settings import Settings
from temporal import names
from temporal.converter import data_converter, payload_codec
from temporal.refusing_codec import ERROR_PAYLOAD_REFUSED, worker_client
from tests.workflows.pipeline_fakes import FakePipeline, fake_workers
from tests.workflows.test_pipeline_workflows import (
    _deploy,
    _eventually,
    _result,
    _settled,
    _wait_for_review,
)

MARKER = "mallory-wrote-this"


async def test_invalid_signals_to_an_app_are_refused_recorded_and_harmless(
    env: WorkflowEnvironment, workers: FakePipeline
) -> None:
    app_id = "poison-app"
    await _result(env.client, await _deploy(env.client, app_id, "a todo list"))
    handle = env.client.get_workflow_handle(names.app_workflow_id(app_id))

    # Valid JSON that does not validate, for every signal the app takes.
    await handle.signal(names.SIGNAL_DEPLOY, {"request_id": "x", "prompt": MARKER})
    await handle.signal(names.SIGNAL_ROLLBACK, {"to_version": -1, "reason": MARKER})
    await handle.signal(names.SIGNAL_REFRESH, {"secrets": MARKER})
    await handle.signal(names.SIGNAL_RETIRE, {"requested_by": ""})
    await handle.signal(names.SIGNAL_REVIEW, {"decision": MARKER})
    await handle.signal(names.SIGNAL_DEPLOY, "not even an object")

    async def all_recorded() -> bool:
        return len(workers.refused) == 6

    await _eventually(all_recorded)
    # Each refusal is recorded by its own handler, concurrently: any order.
    assert sorted(r.signal for r in workers.refused) == sorted(
        [
            names.SIGNAL_DEPLOY,
            names.SIGNAL_ROLLBACK,
            names.SIGNAL_REFRESH,
            names.SIGNAL_RETIRE,
            names.SIGNAL_REVIEW,
            names.SIGNAL_DEPLOY,
        ]
    )
    for refused in workers.refused:
        assert refused.app_id == app_id and refused.owner_id == "user-1"
        assert refused.workflow_id == names.app_workflow_id(app_id)
        assert refused.reason.startswith("invalid "), refused.reason
        assert MARKER not in refused.reason
    assert any("request_id" in r.reason for r in workers.refused)
    assert len({r.request_id for r in workers.refused}) == 6

    status = await _settled(env.client, app_id)
    assert status.pending == 0 and len(status.deployments) == 1 and status.rollbacks == []
    assert status.live is not None and status.live.version == 1
    # The app still takes valid commands.
    second = await _result(env.client, await _deploy(env.client, app_id, "a todo list v2"))
    assert second.release.version == 2
    await handle.signal(
        names.SIGNAL_ROLLBACK, RollbackRequest(request_id="r" * 16, requested_by="oncall")
    )

    async def rolled_back() -> bool:
        live = (await app_status(env.client, app_id)).live
        return live is not None and live.version == 1

    await _eventually(rolled_back)


async def test_an_invalid_review_is_refused_and_a_valid_one_still_counts(
    env: WorkflowEnvironment, workers: FakePipeline
) -> None:
    workflow_id = await _deploy(env.client, "flag-poison", "FLAGME a login page")
    await _wait_for_review(env.client, workflow_id)
    deployment = env.client.get_workflow_handle(workflow_id)

    await deployment.signal(names.SIGNAL_REVIEW, {"decision": "approve"})  # no reviewer

    async def recorded() -> bool:
        return len(workers.refused) == 1

    await _eventually(recorded)
    assert workers.refused[0].workflow_id == workflow_id
    assert "reviewer" in workers.refused[0].reason
    assert (await deployment_status(env.client, workflow_id)).awaiting_review

    await deployment.signal(
        names.SIGNAL_REVIEW, ReviewDecision(decision="approve", reviewer="op", reason="fine")
    )
    assert (await _result(env.client, workflow_id)).release.version == 1
    status = await _settled(env.client, "flag-poison")
    assert status.deployments[-1].outcome is DeploymentOutcome.LIVE


async def test_an_app_workflow_started_with_a_refused_input_fails_and_frees_its_id(
    env: WorkflowEnvironment, tmp_path: Path
) -> None:
    """Someone starts ``app-<id>`` with a plaintext input before its owner deploys: the
    workers' converter fails that run at once (not its first task forever), so the owner's
    deployment starts a fresh run and goes live."""
    codec = payload_codec(Settings(data_dir=tmp_path / "data"))
    ours = Client(
        env.client.service_client,
        namespace=env.client.namespace,
        data_converter=data_converter(codec),
    )
    fake = FakePipeline()
    async with fake_workers(worker_client(ours), fake):
        squatted = await env.client.start_workflow(  # in clear: this client has no codec
            names.APP_WORKFLOW_TYPE,
            {"app_id": "squat-app", "owner_id": "mallory"},
            id=names.app_workflow_id("squat-app"),
            task_queue=names.PIPELINE_TASK_QUEUE,
        )
        with pytest.raises(WorkflowFailureError) as info:  # read with our codec
            # Bounded: a wedged run would retry its first task forever.
            await asyncio.wait_for(ours.get_workflow_handle(squatted.id).result(), 60)
        assert isinstance(info.value.cause, ApplicationError)
        assert info.value.cause.type == ERROR_PAYLOAD_REFUSED
        assert "unencrypted" in str(info.value.cause)
        history = await squatted.fetch_history()
        assert not any(
            e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED for e in history.events
        )

        result = await _result(ours, await _deploy(ours, "squat-app", "a todo list"))
        assert result.release.version == 1

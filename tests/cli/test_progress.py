"""The deployment progress view stops, with the verdict, on every way a deployment can end;
it and ``mb status`` show the attempts of a deployment whose generated bundle was repaired."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from rich.console import Console
from temporalio.testing import WorkflowEnvironment

from activities.qa_admission import QAAdmission
from cli.progress import attempts_table, follow, render
from pipeline.operations import request_deployment
from schemas.deployment import (
    AttemptVerdict,
    DeploymentOutcome,
    DeploymentStatus,
    DeploymentSummary,
    DeployRequest,
    GenerationAttempt,
    Stage,
    StageTiming,
)
from schemas.qa import QAGateTicket
from store.db import Database
from store.qa_queue import QAQueue
from tests.workflows.pipeline_fakes import FakePipeline
from workers.qa_queue_publisher import publish_positions

ENDED = [
    o for o in DeploymentOutcome if o not in (DeploymentOutcome.PENDING, DeploymentOutcome.RUNNING)
]


def _summary(outcome: DeploymentOutcome) -> DeploymentSummary:
    return DeploymentSummary(
        deployment_id="d1",
        workflow_id="deploy-x-d1",
        source="bundle",
        outcome=outcome,
        message="QA gate failed: tests: 1 failing",
        requested_at=datetime(2026, 1, 1, tzinfo=UTC),
    )


@pytest.mark.parametrize("outcome", ENDED)
def test_every_ending_outcome_is_finished_and_shown(outcome: DeploymentOutcome) -> None:
    assert outcome.finished
    console = Console(width=200, record=True)
    console.print(render(None, _summary(outcome)))
    assert f"{outcome.value}: QA gate failed" in console.export_text()


@pytest.mark.parametrize("outcome", [DeploymentOutcome.PENDING, DeploymentOutcome.RUNNING])
def test_a_deployment_under_way_is_not_finished(outcome: DeploymentOutcome) -> None:
    assert not outcome.finished
    console = Console(width=200, record=True)
    console.print(render(None, _summary(outcome)))
    assert "QA gate failed" not in console.export_text()


def _attempt(n: int, verdict: AttemptVerdict, summary: str = "") -> GenerationAttempt:
    hashes = {"bundle_hash": f"{n}" * 64, "report_hash": f"{n}f" * 32}
    return GenerationAttempt(attempt=n, verdict=verdict, summary=summary, **hashes)


def test_a_repaired_deployment_shows_each_attempt_and_its_stages_in_total() -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    status = DeploymentStatus(
        deployment_id="d1",
        app_id="x",
        version=1,
        stage=Stage.TESTING,
        awaiting_review=False,
        timings=[
            StageTiming(stage=stage, started_at=start, finished_at=start + timedelta(seconds=s))
            for stage, s in ((Stage.GENERATING, 2), (Stage.TESTING, 10), (Stage.GENERATING, 3))
        ],
        attempts=[_attempt(1, "fail"), _attempt(2, "pending")],
    )
    console = Console(width=200, record=True)
    console.print(render(status, None))
    rows = [" ".join(line.replace("│", " ").split()) for line in console.export_text().splitlines()]
    assert "generating done 5.00" in rows  # the generation and the repair, in total
    assert "testing running… 10.00" in rows  # testing again, the repaired bundle
    assert "attempt 1 fail" in rows and "attempt 2 pending" in rows


def test_mb_status_lists_the_attempts_of_repaired_deployments_only() -> None:
    plain = _summary(DeploymentOutcome.LIVE)
    repaired = _summary(DeploymentOutcome.REJECTED_QA).model_copy(
        update={
            "deployment_id": "d2",
            "attempts": [
                _attempt(1, "fail", "static: B307 [bold]eval[/bold]"),
                _attempt(2, "unchanged"),
            ],
        }
    )
    assert attempts_table([plain]) is None
    table = attempts_table([plain, repaired])
    assert table is not None
    console = Console(width=200, record=True)
    console.print(table)
    text = console.export_text()
    assert "d2" in text and "d1 " not in text
    assert "static: B307 [bold]eval[/bold]" in text  # the generator's text, not markup
    assert "111111111111" in text and "1f1f1f1f1f1f" in text and "unchanged" in text


def _testing(position: int | None) -> str:
    status = DeploymentStatus(
        deployment_id="d1", app_id="x", version=1, stage=Stage.TESTING, awaiting_review=False
    )
    console = Console(width=200, record=True)
    console.print(render(status, _summary(DeploymentOutcome.RUNNING), position))
    return console.export_text()


def test_a_qa_gate_waiting_for_cores_shows_its_place_in_the_queue() -> None:
    assert "queued #3" in _testing(3)
    assert "running" not in _testing(3).split("testing")[1].splitlines()[0]
    assert "queued" not in _testing(None) and "running" in _testing(None)


async def test_mb_deploys_live_view_shows_the_queue_position_from_postgresql(
    env: WorkflowEnvironment, workers: FakePipeline, db: Database
) -> None:
    """``follow`` (what ``mb deploy`` shows) reads the gate's place while it waits: real
    Temporal test server, real PostgreSQL, the real admission and its publisher."""
    admission = workers.qa_admission = QAAdmission(1, linger_s=0)
    queue, stop = QAQueue(db), asyncio.Event()
    publisher = asyncio.create_task(
        publish_positions(admission, queue, "w1", stop, refresh_s=0.2, min_interval_s=0.01)
    )
    request = DeployRequest(request_id="d" * 32, owner_id="alice", prompt="a todo list")
    seen: list[int | None] = []

    async def position() -> int | None:
        seen.append(await queue.position("queued-app", request.request_id))
        if seen[-1] == 1 and held.is_set():
            held.clear()  # shown: let the other owner's gate finish
        return seen[-1]

    held = asyncio.Event()
    held.set()

    async def other_owners_gate() -> None:
        async with admission.admitted(QAGateTicket(app_id="o", deployment_id="o", owner_id="b")):
            while held.is_set():
                await asyncio.sleep(0.02)

    blocker = asyncio.create_task(other_owners_gate())
    await asyncio.sleep(0)
    workflow_id = await request_deployment(env.client, "queued-app", request)
    console = Console(width=200, record=True, force_terminal=True)
    summary = await follow(
        env.client,
        "queued-app",
        request.request_id,
        workflow_id,
        console,
        poll_s=0.05,
        queue_position=position,
    )
    assert summary.outcome is DeploymentOutcome.LIVE
    assert 1 in seen
    assert "queued #1" in console.export_text()
    stop.set()
    await asyncio.gather(publisher, blocker)

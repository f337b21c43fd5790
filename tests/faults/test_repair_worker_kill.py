"""Fault: the worker is SIGKILLed between the attempts of a repaired deployment.

The model's first bundle fails the real gate; the worker is killed as soon as the
repaired bundle is stored (the repair's result may or may not have reached Temporal),
and again while the repaired bundle's mutation testing runs. Fresh workers take over:
the deployment goes live on attempt 2 and the model was asked for exactly one repair.
"""

from __future__ import annotations

import os
import signal
from collections.abc import AsyncIterator, Iterator

import pytest
from temporalio.api.enums.v1 import EventType

from store.generation_repairs import GenerationRepairs
from store.qa_reports import QAReportRepository
from store.releases import ReleaseRepository
from temporal import names
from tests.activities.generation.chat_server import ChatServer, serve_chat
from tests.activities.generation.repair_bundles import (
    carries_the_findings,
    fix_only_with_findings,
)
from tests.faults.conftest import wait_for
from tests.faults.test_worker_kills import _mutation_running
from tests.integration.conftest import Stack, running_stack
from tests.integration.test_generation_repair import PROMPT, generator_env

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]


@pytest.fixture(scope="module")
def chat() -> Iterator[ChatServer]:
    with serve_chat() as server:
        yield server


@pytest.fixture(scope="module")
async def stack(chat: ChatServer) -> AsyncIterator[Stack]:
    async with running_stack(worker_env=generator_env(chat)) as stack:
        yield stack


def _kill_worker(stack: Stack) -> None:
    victim = stack.workers[-1]
    os.killpg(victim.pid, signal.SIGKILL)
    victim.wait()
    stack.start_worker()


@pytest.mark.reliability(
    "Worker killed (SIGKILL)",
    done=(
        "SIGKILL the worker as soon as the model's repair of a failed bundle is stored, then"
        " 2 s into the repaired bundle's mutation testing; start a fresh worker each time"
    ),
)
async def test_a_repair_survives_the_worker_being_killed_between_attempts(
    stack: Stack, chat: ChatServer
) -> None:
    """The deployment goes live on attempt 2; the model was asked once for the bundle and
    once for its repair; one stored repair, one report per attempt, one evidence row and
    one release."""
    chat.reset(fix_only_with_findings)
    app_id = "tips-kill"
    deployment_id, workflow_id = await stack.deploy(app_id, PROMPT)
    repairs = GenerationRepairs(stack.db)

    async def repair_stored() -> bool:
        return bool(await repairs.for_deployment(app_id, deployment_id))

    await wait_for("the repair stored", repair_stored, within=300)
    _kill_worker(stack)
    await wait_for(
        "the repaired bundle's mutation testing", lambda: _mutation_running(stack, workflow_id, 2)
    )
    _kill_worker(stack)

    await stack.outcome(app_id, deployment_id, within=420)
    health = await stack.apps.get(f"/apps/{app_id}/health")
    assert health.status_code == 200

    asked = chat.asked()
    assert [carries_the_findings(r["json"]) for r in asked] == [False, True]
    history = await stack.client.get_workflow_handle(workflow_id).fetch_history()
    scheduled = [
        e.activity_task_scheduled_event_attributes.activity_type.name
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
    ]
    assert scheduled.count(names.ACTIVITY_REPAIR) == 1
    assert scheduled.count(names.ACTIVITY_RECORD_QA_REPORT) == 2
    [kept] = await repairs.for_deployment(app_id, deployment_id)
    rows = await QAReportRepository(stack.db).reports(deployment_id)
    assert [(r.attempt, r.verdict) for r in rows] == [(1, "fail"), (2, "pass")]
    assert rows[1].bundle_hash == kept.bundle_hash
    assert await ReleaseRepository(stack.db).count_for_deployment(deployment_id) == 1
    async with stack.db.connection() as conn:
        evidence = await (
            await conn.execute(
                "SELECT bundle_hash FROM qa_evidence WHERE deployment_id = %s", (deployment_id,)
            )
        ).fetchall()
    assert [e["bundle_hash"] for e in evidence] == [kept.bundle_hash]

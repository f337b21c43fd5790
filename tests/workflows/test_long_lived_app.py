"""Histories: an AppWorkflow driven through 300 deploys and rollbacks continues as new,
and every run's history stays bounded, far under Temporal's limits.

The real continue-as-new triggers are used on purpose (``max_history_events``'s default
and the server's suggestion, which comes first here): they, not a test-only value, must
keep history bounded.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field

import pytest
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment

from pipeline.operations import (
    PipelineRequestError,
    app_releases,
    app_status,
    request_deployment,
    request_rollback,
)
from schemas.deployment import (
    AppStatus,
    AppWorkflowInput,
    DeploymentOutcome,
    DeployRequest,
    RollbackRequest,
)
from temporal import names
from tests.workflows.pipeline_fakes import FakePipeline
from workflows.app import MAX_DEPLOYMENTS, MAX_RELEASES, MAX_ROLLBACKS

APP_ID = "long-lived-300"
OWNER = "user-1"
OPERATIONS = 300
BATCH = 30
"""Operations queued before waiting for the app to settle (a multiple of 3)."""

# Per run, Temporal suggests continue-as-new at 4 Ki events / 4 MiB, warns at 10 Ki events /
# 10 MiB and terminates the run at 50 Ki events / 50 MiB. The workflow continues as new after
# the command during which the suggestion (or its own 5,000-event threshold) is reached, so
# a run's length is that plus one command's events: assert it stays under the threshold
# plus a margin (not growing with the number of operations), under the warning with ~2x
# margin, and its size under the 4 MiB suggestion (the 10 MiB warning with ~2.5x margin).
EVENT_LIMIT = 10_000
BYTE_LIMIT = 4 * 1024 * 1024
THRESHOLD_SLACK = 200


@dataclass
class _Model:
    """What the operations issued imply, mirroring the workflow's release bookkeeping."""

    releases: list[int] = field(default_factory=list)
    live: int | None = None
    deploys: int = 0
    rollbacks: list[int] = field(default_factory=list)

    def deploy(self) -> None:
        self.deploys += 1
        self.releases = [*self.releases, self.deploys][-MAX_RELEASES:]
        self.live = self.deploys

    def rollback(self) -> None:
        earlier = [v for v in self.releases if self.live is None or v < self.live]
        assert earlier, "the plan rolls back an app without a previous release"
        self.live = earlier[-1]
        self.rollbacks.append(self.live)


def _is_rollback(index: int) -> bool:
    return index % 3 == 2


async def _settled(env: WorkflowEnvironment, within: float = 60.0) -> AppStatus:
    """The app's status once nothing is queued or running (a running rollback has no
    message yet: ``current_deployment`` only shows deploys)."""
    deadline = time.monotonic() + within
    while True:
        try:
            status = await app_status(env.client, APP_ID)
            idle = status.current_deployment is None and status.pending == 0
            if idle and all(r.message for r in status.rollbacks):
                return status
        except (PipelineRequestError, RPCError):
            pass  # a run that just continued as new answers queries a bit later
        assert time.monotonic() < deadline, "the app did not settle in time"
        # The test server starts a continued run on its own clock: let it move.
        await env.sleep(0.05)


async def _roll_back(env: WorkflowEnvironment) -> None:
    """Request a rollback (the same request id when asked again). Its release query can
    outlast its deadline while the workflow task runs a batch's status publications on a
    busy machine; that is retried here: this test is about history, not query latency."""
    request = RollbackRequest(request_id=uuid.uuid4().hex, requested_by="oncall")
    for attempt in range(5):
        try:
            await request_rollback(env.client, APP_ID, request)
            return
        except RPCError as err:
            # The client's own deadline surfaces as CANCELLED ("Timeout expired").
            late = err.status in (RPCStatusCode.DEADLINE_EXCEEDED, RPCStatusCode.CANCELLED)
            if not late or attempt == 4:
                raise
            print(f"rollback request: a query passed its deadline ({err}); asked again")


@dataclass
class _Run:
    run_id: str
    events: int
    size: int
    continued: bool


async def _runs(client: Client, first_run_id: str) -> list[_Run]:
    """Every run of the app's workflow, first to current: walked back from the current run
    through each run's start event (``continued_execution_run_id``), each run's length as
    the server counts it. Following each run's last fetched event forward broke once on the
    time-skipping server: a run that had continued as new (the current run was another)
    fetched without its closing event."""
    workflow_id = names.app_workflow_id(APP_ID)
    runs: list[_Run] = []
    run_id = (await client.get_workflow_handle(workflow_id).describe()).run_id
    while True:
        handle = client.get_workflow_handle(workflow_id, run_id=run_id)
        described = await handle.describe()
        history = await handle.fetch_history()
        runs.append(
            _Run(
                run_id=run_id,
                events=max(described.history_length, len(history.events)),
                size=sum(e.ByteSize() for e in history.events),
                continued=described.status == WorkflowExecutionStatus.CONTINUED_AS_NEW,
            )
        )
        if run_id == first_run_id:
            return runs[::-1]
        started = history.events[0].workflow_execution_started_event_attributes
        run_id = started.continued_execution_run_id
        assert run_id, f"run {runs[-1].run_id} did not continue another; {first_run_id} never came"


@pytest.mark.timeout(600)  # several hundred operations on a busy machine
@pytest.mark.reliability(
    "Histories",
    done="Drive one AppWorkflow through 200 deploys and 100 rollbacks",
)
async def test_app_workflow_history_stays_bounded_over_300_operations(
    env: WorkflowEnvironment, workers: FakePipeline
) -> None:
    """It continues as new; each run stays under 5,200 events and 4 MiB; the live version, the kept
    releases and the deployment list are exactly what the operations imply."""
    workflow_input = AppWorkflowInput(app_id=APP_ID, owner_id=OWNER, watch_interval_s=0.01)
    assert workflow_input.max_history_events == 5000  # the default, not lowered
    handle = await env.client.start_workflow(
        names.APP_WORKFLOW_TYPE,
        workflow_input,
        id=names.app_workflow_id(APP_ID),
        task_queue=names.PIPELINE_TASK_QUEUE,
    )
    first_run_id = handle.result_run_id
    assert first_run_id is not None

    model = _Model()
    begun = time.monotonic()
    for start in range(0, OPERATIONS, BATCH):
        for index in range(start, min(start + BATCH, OPERATIONS)):
            if _is_rollback(index):
                # request_rollback refuses when nothing is older than the live release:
                # wait while the app may still be on v1 (until v4 has been live).
                if model.deploys <= 4:
                    await _settled(env)
                # Queued behind this batch's deploys, it rolls back from the newest one.
                await _roll_back(env)
                model.rollback()
            else:
                await request_deployment(
                    env.client,
                    APP_ID,
                    DeployRequest(
                        request_id=uuid.uuid4().hex, owner_id=OWNER, prompt=f"a todo list #{index}"
                    ),
                )
                model.deploy()
        status = await _settled(env)
        print(f"{time.monotonic() - begun:6.1f} s: {start + BATCH} operations settled")
        assert status.live is not None and status.live.version == model.live, start
        batch_rollbacks = sum(map(_is_rollback, range(start, min(start + BATCH, OPERATIONS))))
        recent = status.rollbacks[-batch_rollbacks:]
        assert all(r.ok for r in recent), [r.message for r in recent if not r.ok]
        assert [r.to_version for r in recent] == model.rollbacks[-batch_rollbacks:]

    # An operation's event count depends on how its signals batch into workflow tasks (on a
    # busy machine more signals share a task, so fewer events per operation), so the 300 can
    # end under the threshold, or cross it at the last command with the workflow idle (it
    # continues at its next operation): then deploy on until it has, or until the run is
    # longer than any trigger allows.
    runs = await _runs(env.client, first_run_id)
    extra = 0
    while len(runs) < 2 and runs[-1].events < workflow_input.max_history_events + THRESHOLD_SLACK:
        for _ in range(BATCH):
            await request_deployment(
                env.client,
                APP_ID,
                DeployRequest(request_id=uuid.uuid4().hex, owner_id=OWNER, prompt="one more"),
            )
            model.deploy()
        extra += BATCH
        status = await _settled(env)
        assert status.live is not None and status.live.version == model.live
        before = runs[-1]
        runs = await _runs(env.client, first_run_id)
        print(f"{time.monotonic() - begun:6.1f} s: {extra} more deploys, {runs[-1].events} events")
        if len(runs) == 1 and runs[-1].events == before.events:
            described = await env.client.get_workflow_handle(
                names.app_workflow_id(APP_ID)
            ).describe()
            pytest.fail(
                f"{BATCH} deploys settled but the run's history did not grow: run {before.run_id}"
                f" has {before.events} events; the workflow id's current run is"
                f" {described.run_id} ({described.status}, {described.history_length} events)"
            )
    assert len(runs) >= 2, f"{runs[-1].events} events and no continue-as-new"
    assert all(r.continued for r in runs[:-1]) and not runs[-1].continued
    current = await env.client.get_workflow_handle(names.app_workflow_id(APP_ID)).describe()
    assert current.run_id == runs[-1].run_id
    for run in runs:
        assert run.events < EVENT_LIMIT, run
        assert run.events < workflow_input.max_history_events + THRESHOLD_SLACK, run
        assert run.size < BYTE_LIMIT, run

    # Final state: what the 200 deploys (and any extra) and 100 rollbacks imply, nothing lost.
    status = await _settled(env)
    releases = await app_releases(env.client, APP_ID)
    assert model.deploys == sum(not _is_rollback(i) for i in range(OPERATIONS)) + extra
    assert status.live is not None and status.live.version == model.live
    assert [r.version for r in releases] == model.releases
    assert len(releases) == MAX_RELEASES
    assert releases[-1].version == model.deploys  # every deploy got its version
    assert status.pending == 0 and status.current_deployment is None
    kept = [d.version for d in status.deployments]
    assert kept == list(range(model.deploys - MAX_DEPLOYMENTS + 1, model.deploys + 1))
    assert all(d.outcome is DeploymentOutcome.LIVE for d in status.deployments)
    assert len(status.rollbacks) == MAX_ROLLBACKS and all(r.ok for r in status.rollbacks)
    assert workers.routes[APP_ID] == status.live.instance_id

"""AppWorkflow: the long-lived owner of one app (workflow id ``app-<app_id>``).

It serialises everything that changes the app: deploy and rollback signals
queue up and run one at a time; each deploy is a child DeploymentWorkflow.
It remembers the releases, answers ``status`` and ``releases`` queries,
forwards ``review`` decisions to the deployment awaiting one, and continues
as new before its history grows large.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from pydantic import BaseModel, TypeAdapter, ValidationError
from temporalio import workflow
from temporalio.common import RawValue, SearchAttributePair, TypedSearchAttributes
from temporalio.exceptions import ActivityError, ApplicationError, ChildWorkflowError

from workflows import rollout, signal_inputs, status_views
from workflows.deployment import DeploymentWorkflow

with workflow.unsafe.imports_passed_through():
    from schemas.deployment import (
        AppState,
        AppStatus,
        AppWorkflowInput,
        DeploymentInput,
        DeploymentOutcome,
        DeploymentSummary,
        DeployRequest,
        GenerationAttempt,
        RefreshRequest,
        RefreshSummary,
        ReleaseRecord,
        RetireRequest,
        ReviewDecision,
        RollbackRequest,
        RollbackSummary,
    )
    from schemas.hosts import PlacementRequest
    from schemas.operators import deployment_details, deployment_summary
    from schemas.runtime import InstanceInfo, RuntimeHost
    from temporal import names

M = TypeVar("M", bound=BaseModel)

MAX_RELEASES = 20
MAX_DEPLOYMENTS = 50
MAX_ROLLBACKS = 20
MAX_SEEN_REQUEST_IDS = 500

_OUTCOME_BY_ERROR = {
    names.ERROR_PROMPT_BLOCKED: DeploymentOutcome.REJECTED,
    names.ERROR_REVIEW_REJECTED: DeploymentOutcome.REJECTED,
    names.ERROR_REVIEW_TIMED_OUT: DeploymentOutcome.REJECTED,
    names.ERROR_ROLLED_BACK: DeploymentOutcome.ROLLED_BACK,
    names.ERROR_QA_GATE_FAILED: DeploymentOutcome.REJECTED_QA,
}


@workflow.defn(name=names.APP_WORKFLOW_TYPE)
class AppWorkflow:
    """Serialises deploys and rollbacks of one app and remembers its releases."""

    @workflow.init
    def __init__(self, input: AppWorkflowInput) -> None:
        self._input = input
        self._state: AppState = input.state.model_copy(deep=True)
        self._current: DeploymentSummary | None = None

    @workflow.run
    async def run(self, input: AppWorkflowInput) -> None:
        """Work the queue forever; continue as new when history is long."""
        await self._publish()  # a new app, or the state this run continues from
        while True:
            await workflow.wait_condition(lambda: bool(self._state.pending))
            command = self._state.pending.pop(0)
            if isinstance(command, DeployRequest):
                await self._deploy(command)
            elif isinstance(command, RefreshRequest):
                await self._refresh(command)
            elif isinstance(command, RetireRequest):
                await self._retire(command)
                await self._publish()
                await workflow.wait_condition(workflow.all_handlers_finished)
                return
            else:
                await self._rollback(command)
            await self._publish()
            if self._history_is_long():
                # Queued commands travel in the state; waiting for an empty queue
                # could starve continue-as-new on a busy app.
                await workflow.wait_condition(workflow.all_handlers_finished)
                workflow.continue_as_new(input.model_copy(update={"state": self._state}))

    # --- signals and queries ----------------------------------------------------------

    @workflow.signal(name=names.SIGNAL_DEPLOY)
    async def deploy(self, raw: RawValue) -> None:
        """Queue a deployment (a repeated request id is ignored)."""
        request = await self._accept(raw, DeployRequest, names.SIGNAL_DEPLOY)
        if request is None or not self._first_time(request.request_id):
            return
        self._state.pending.append(request)
        self._remember_deployment(
            DeploymentSummary(
                deployment_id=request.request_id,
                workflow_id=names.deployment_workflow_id(self._input.app_id, request.request_id),
                source="prompt" if request.prompt is not None else "bundle",
                requested_at=workflow.now(),
            )
        )

    @workflow.signal(name=names.SIGNAL_ROLLBACK)
    async def rollback(self, raw: RawValue) -> None:
        """Queue a rollback to ``to_version`` or to the release before the live one."""
        request = await self._accept(raw, RollbackRequest, names.SIGNAL_ROLLBACK)
        if request is not None and self._first_time(request.request_id):
            self._state.pending.append(request)

    @workflow.signal(name=names.SIGNAL_REFRESH)
    async def refresh(self, raw: RawValue) -> None:
        """Queue a refresh: the live release on a new instance (e.g. its secrets changed)."""
        request = await self._accept(raw, RefreshRequest, names.SIGNAL_REFRESH)
        if request is not None and self._first_time(request.request_id):
            self._state.pending.append(request)

    @workflow.signal(name=names.SIGNAL_RETIRE)
    async def retire(self, raw: RawValue) -> None:
        """Retire the app (it was deleted) as soon as the running command ends: ahead of
        the queue, whose deployments are then dropped."""
        request = await self._accept(raw, RetireRequest, names.SIGNAL_RETIRE)
        if request is not None and self._first_time(request.request_id):
            self._state.pending.insert(0, request)

    @workflow.signal(name=names.SIGNAL_REVIEW)
    async def review(self, raw: RawValue) -> None:
        """Forward a review decision to the deployment awaiting it."""
        decision = await self._accept(raw, ReviewDecision, names.SIGNAL_REVIEW)
        if decision is None:
            return
        target = decision.deployment_id or (
            self._current.deployment_id if self._current is not None else None
        )
        if target is None:
            workflow.logger.warning("review signal ignored: no deployment is running")
            return
        handle = workflow.get_external_workflow_handle(
            names.deployment_workflow_id(self._input.app_id, target)
        )
        await handle.signal(names.SIGNAL_REVIEW, decision)

    async def _accept(self, raw: RawValue, model: type[M], signal: str) -> M | None:
        """A signal's input, or None when it was refused (logged and recorded)."""
        return await signal_inputs.accept(
            raw, model, signal=signal, app_id=self._input.app_id, owner_id=self._input.owner_id
        )

    @workflow.query(name=names.QUERY_STATUS)
    def status(self) -> AppStatus:
        """The live release, the running deployment, the queue and recent history."""
        return AppStatus(
            app_id=self._input.app_id,
            owner_id=self._input.owner_id,
            live=self._live(),
            current_deployment=self._current,
            pending=len(self._state.pending),
            deployments=self._state.deployments,
            rollbacks=self._state.rollbacks,
            refreshes=self._state.refreshes,
        )

    async def _publish(self) -> None:
        """Put the status where the API reads it: when a run or a command starts, and when
        a command ends. Not from signal handlers: a burst of signals would each publish,
        and a busy app would answer its own queries late. A command queued behind a
        running one shows when that one ends (the API asks the workflow for a deployment
        it does not list)."""
        if status_views.enabled():
            self._state.status_seq = status_views.next_seq(self._state.status_seq)
            await status_views.publish_app(self.status(), self._state.status_seq)

    @workflow.query(name=names.QUERY_RELEASES)
    def releases(self) -> list[ReleaseRecord]:
        """Releases, oldest first (bounded to the most recent ones)."""
        return self._state.releases

    # --- deploy -------------------------------------------------------------------------

    async def _deploy(self, request: DeployRequest) -> None:
        summary = self._summary(request.request_id)
        summary.version = self._state.next_version
        self._state.next_version += 1
        summary.outcome = DeploymentOutcome.RUNNING
        self._current = summary
        await self._publish()
        try:
            result = await workflow.execute_child_workflow(
                DeploymentWorkflow.run,
                DeploymentInput(
                    app_id=self._input.app_id,
                    owner_id=request.owner_id,
                    deployment_id=request.request_id,
                    version=summary.version,
                    prompt=request.prompt,
                    bundle_hash=request.bundle_hash,
                    previous=self._live(),
                    review_timeout_s=self._input.review_timeout_s,
                    qa_policy=request.qa_policy,
                    watch_checks=self._input.watch_checks,
                    watch_interval_s=self._input.watch_interval_s,
                    generation_repairs=request.generation_repairs,
                ),
                id=summary.workflow_id,
                task_queue=names.PIPELINE_TASK_QUEUE,
                static_summary=deployment_summary(self._input.app_id, summary.version),
                static_details=deployment_details(request.request_id),
                search_attributes=TypedSearchAttributes(
                    [
                        SearchAttributePair(names.SA_APP_ID, self._input.app_id),
                        SearchAttributePair(names.SA_OWNER_ID, request.owner_id),
                        SearchAttributePair(names.SA_STAGE, "queued"),
                    ]
                ),
            )
        except ChildWorkflowError as err:
            cause = err.cause
            error_type = cause.type if isinstance(cause, ApplicationError) else None
            summary.outcome = _OUTCOME_BY_ERROR.get(error_type or "", DeploymentOutcome.FAILED)
            summary.error_type = error_type or type(cause).__name__
            summary.message = str(cause) if cause else str(err)
            if isinstance(cause, ApplicationError):
                summary.attempts = _attempts(cause.details)
        else:
            summary.outcome = DeploymentOutcome.LIVE
            summary.message = f"v{result.release.version} is live"
            if len(result.attempts) > 1:
                summary.attempts = result.attempts
            self._add_release(result.release)
        # Not in a ``finally``: when the worker evicts this run mid-child, the coroutine
        # is closed outside the workflow's event loop, where workflow.now() cannot run.
        summary.finished_at = workflow.now()
        self._current = None

    # --- rollback -----------------------------------------------------------------------

    async def _rollback(self, request: RollbackRequest) -> None:
        live = self._live()
        target = self._rollback_target(request.to_version)
        record = RollbackSummary(
            request_id=request.request_id,
            from_version=live.version if live else None,
            to_version=target.version if target else request.to_version,
            ok=False,
            message="",
            at=workflow.now(),
        )
        self._state.rollbacks = [*self._state.rollbacks, record][-MAX_ROLLBACKS:]
        if target is None:
            record.message = (
                f"v{request.to_version} is not a release of this app"
                if request.to_version
                else "there is no previous release to roll back to"
            )
            return
        if live is not None and target.version == live.version:
            record.message = f"v{target.version} is already live"
            return
        retire = None if live is None else (names.runtime_task_queue(live.host), live.instance_id)
        queue, placed = names.runtime_task_queue(target.host), False
        if workflow.patched(names.PATCH_PLACEMENT):
            host = await self._place(target.host)
            if not isinstance(host, RuntimeHost):
                record.message = f"v{target.version} cannot be placed ({host}); nothing changed"
                return
            queue, placed = host.task_queue, True
        outcome = await rollout.bring_up(
            queue,
            app_id=self._input.app_id,
            version=target.version,
            bundle_hash=target.bundle_hash,
            switch=rollout.Switch(
                owner_id=self._input.owner_id,
                reason=f"rollback by {request.requested_by}: {request.reason or 'no reason given'}",
                request_id=f"{request.request_id}-rollback",
                rollback="by_hand",
                actor=request.requested_by,
            ),
            retire=retire,
        )
        if isinstance(outcome, rollout.NotLive):
            # e.g. its QA evidence no longer verifies: refuse, keep the live release.
            trouble = "cannot start" if outcome.step == "start" else "is not healthy"
            record.message = f"v{target.version} {trouble} ({outcome.detail}); nothing changed"
            return
        if placed:
            self._moved(target, outcome.instance)
        self._state.live_version = target.version
        record.ok = True
        record.message = f"rolled back from v{record.from_version} to v{target.version}"

    # --- retire -------------------------------------------------------------------------

    async def _retire(self, request: RetireRequest) -> None:
        """Offline for good: no route, no instance; queued commands are dropped."""
        await rollout.clear_route(
            app_id=self._input.app_id,
            reason=f"app deleted by {request.requested_by}: {request.reason or 'no reason given'}",
            request_id=f"{request.request_id}-retire",
        )
        live = self._live()
        if live is not None:
            await rollout.stop_instance(names.runtime_task_queue(live.host), live.instance_id)
        self._state.live_version = None
        for dropped in self._state.pending:
            if isinstance(dropped, DeployRequest):
                summary = self._summary(dropped.request_id)
                summary.outcome = DeploymentOutcome.FAILED
                summary.message = "not started: the app was deleted"
                summary.finished_at = workflow.now()
        self._state.pending = []

    # --- refresh ------------------------------------------------------------------------

    async def _refresh(self, request: RefreshRequest) -> None:
        """Start the live release again (new instance, current secrets), health-check it,
        switch traffic, then drain and stop the old instance: no request is dropped."""
        try:
            await self._roll_live_onto_new_instance(request)
        finally:
            self._state.refreshes[-1].done = True

    async def _roll_live_onto_new_instance(self, request: RefreshRequest) -> None:
        live = self._live()
        record = RefreshSummary(
            request_id=request.request_id,
            version=live.version if live else None,
            ok=False,
            message="",
            at=workflow.now(),
        )
        self._state.refreshes = [*self._state.refreshes, record][-MAX_ROLLBACKS:]
        if live is None:
            record.message = "nothing is live: the next deployment picks up the change"
            return
        queue = old_queue = names.runtime_task_queue(live.host)
        retire: tuple[str, str] | None = (old_queue, live.instance_id)
        if request.lost_host is not None and workflow.patched(names.PATCH_HOST_LOST):
            if live.host != request.lost_host:
                record.ok = True
                record.message = f"v{live.version} already runs on {live.host}"
                return
            # Nothing polls a lost host's queue: a stop there would wait for ever. The
            # host fences its instance when it returns.
            retire = None
        if workflow.patched(names.PATCH_PLACEMENT):
            host = await self._place(live.host)
            if not isinstance(host, RuntimeHost):
                record.message = f"v{live.version} cannot be placed ({host}); still serving"
                return
            queue = host.task_queue
        generation = self._state.next_generation
        self._state.next_generation += 1
        what = ", ".join(request.secrets) or "no names given"
        outcome = await rollout.bring_up(
            queue,
            app_id=self._input.app_id,
            version=live.version,
            bundle_hash=live.bundle_hash,
            generation=generation,
            switch=rollout.Switch(
                owner_id=self._input.owner_id,
                reason=f"refresh by {request.requested_by} (secrets: {what})"
                if retire is not None
                else f"moved by {request.requested_by}: {request.reason or 'host lost'}",
                request_id=f"{request.request_id}-refresh",
            ),
            retire=retire,
        )
        if isinstance(outcome, rollout.NotLive):
            if outcome.step == "start":
                record.message = f"v{live.version} cannot restart ({outcome.detail}); still serving"
            else:
                record.message = (
                    f"the new instance is not healthy ({outcome.detail}); still serving"
                )
            return
        instance = outcome.instance
        self._moved(live, instance)
        record.ok = True
        record.instance_id = instance.instance_id
        where = "" if instance.host == live.host else f" on {instance.host}"
        record.message = f"v{live.version} now runs as {instance.instance_id}{where}"
        if retire is None:
            record.message += f" (moved off the lost host {live.host})"

    async def _place(self, prefer: str) -> RuntimeHost | str:
        """A host for a release that ran on ``prefer`` (kept if it still qualifies), or
        why there is none."""
        try:
            return await rollout.select_host(
                PlacementRequest(app_id=self._input.app_id, prefer=[prefer])
            )
        except ActivityError as err:
            cause = err.cause
            return cause.message if isinstance(cause, ApplicationError) else rollout.cause_of(err)

    def _moved(self, release: ReleaseRecord, instance: InstanceInfo) -> None:
        """The release now runs as ``instance`` (perhaps on another host)."""
        moved = release.model_copy(
            update={"instance_id": instance.instance_id, "host": instance.host}
        )
        self._state.releases = [
            moved if r.version == release.version else r for r in self._state.releases
        ]

    def _rollback_target(self, to_version: int | None) -> ReleaseRecord | None:
        if to_version is not None:
            return next((r for r in self._state.releases if r.version == to_version), None)
        live = self._state.live_version
        earlier = [r for r in self._state.releases if live is None or r.version < live]
        return earlier[-1] if earlier else None

    # --- state --------------------------------------------------------------------------

    def _live(self) -> ReleaseRecord | None:
        live = self._state.live_version
        return next((r for r in self._state.releases if r.version == live), None)

    def _add_release(self, release: ReleaseRecord) -> None:
        self._state.releases = [*self._state.releases, release][-MAX_RELEASES:]
        self._state.live_version = release.version

    def _summary(self, deployment_id: str) -> DeploymentSummary:
        return next(d for d in self._state.deployments if d.deployment_id == deployment_id)

    def _remember_deployment(self, summary: DeploymentSummary) -> None:
        """Append, dropping the oldest finished deployments beyond the bound."""
        deployments = [*self._state.deployments, summary]
        overflow = len(deployments) - MAX_DEPLOYMENTS
        if overflow > 0:
            finished = [d.deployment_id for d in deployments if d.finished_at is not None]
            drop = set(finished[:overflow])
            deployments = [d for d in deployments if d.deployment_id not in drop]
        self._state.deployments = deployments

    def _first_time(self, request_id: str) -> bool:
        if request_id in self._state.seen_request_ids:
            return False
        self._state.seen_request_ids = [*self._state.seen_request_ids, request_id][
            -MAX_SEEN_REQUEST_IDS:
        ]
        return True

    def _history_is_long(self) -> bool:
        info = workflow.info()
        return (
            info.is_continue_as_new_suggested()
            or info.get_current_history_length() >= self._input.max_history_events
        )


_ATTEMPTS = TypeAdapter(list[GenerationAttempt])


def _attempts(details: Sequence[Any]) -> list[GenerationAttempt]:
    """The bundles a failed deployment judged (its verdict's details), if it repaired any."""
    if not details:
        return []
    try:
        return _ATTEMPTS.validate_python(details[0])
    except ValidationError:
        return []  # a verdict from another version: the message still says what happened

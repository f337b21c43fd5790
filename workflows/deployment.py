"""DeploymentWorkflow: one prompt (or bundle) becomes one live, QA-gated release.

moderate -> [review] -> generate -> moderate its content -> QA gate (tests x3,
mutation, fuzz, static analysis, dependency scan, in parallel; one signed report)
-> [a generated bundle that failed: repair with the report's findings, moderate,
gate again, up to the deployment's number of repairs] -> start -> health -> switch
-> watch -> record release -> stop the old release. A release that fails its
health checks after the switch is rolled back automatically.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import NoReturn

from temporalio import workflow
from temporalio.common import RawValue, RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, CancelledError

from workflows import rollout, signal_inputs, status_views

with workflow.unsafe.imports_passed_through():
    from schemas.deployment import (
        DeploymentInput,
        DeploymentResult,
        DeploymentStatus,
        GenerationAttempt,
        ReleaseRecord,
        ReviewDecision,
        Stage,
        StageTiming,
    )
    from schemas.generation import (
        MAX_GENERATION_REPAIRS,
        GenerateInput,
        GenerateOutput,
        RepairBudgetInput,
        RepairInput,
        RepairOutput,
    )
    from schemas.moderation import ModerateBundleInput, ModerateInput, ModerationResult
    from schemas.operators import MEMO_QA, QAMemo, report_path
    from schemas.qa import (
        QAGateOutcome,
        QAGateTicket,
        QAStageInput,
        QAStageOutcome,
        RecordQAReportInput,
        RunTestsInput,
    )
    from schemas.runtime import HealthCheckResult, InstanceInfo, RecordReleaseInput, RuntimeHost
    from temporal import names

MODERATION_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    maximum_interval=timedelta(minutes=1),
    maximum_attempts=10,
)
# Retries outlast a PostgreSQL or network outage of about a quarter of an hour. The
# LLM's own failures stop after GENERATION_LLM_ATTEMPTS: the activity marks them final.
GENERATION_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2),
    maximum_interval=timedelta(minutes=1),
    maximum_attempts=20,
)
# A QA stage's verdict is its result, never an error: what fails is infrastructure
# (the artifact store, a sandbox), retried for about six minutes.
QA_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=5),
    maximum_interval=timedelta(minutes=1),
    maximum_attempts=10,
)
# A QA stage may first wait for its gate's admission to a worker's cores (heartbeating,
# so a dead worker is still noticed within the heartbeat timeout): its start-to-close
# allows for that wait on top of its own run.
QA_ADMISSION_WAIT = timedelta(minutes=60)
LIGHT_RETRY = RetryPolicy(maximum_interval=timedelta(seconds=30), maximum_attempts=20)


@workflow.defn(name=names.DEPLOYMENT_WORKFLOW_TYPE)
class DeploymentWorkflow:
    """One deployment of one app version. Fails with a typed ApplicationError verdict."""

    @workflow.init
    def __init__(self, input: DeploymentInput) -> None:
        self._input = input
        self._review: ReviewDecision | None = None
        self._stage_started = workflow.now()
        self._status = DeploymentStatus(
            deployment_id=input.deployment_id,
            app_id=input.app_id,
            version=input.version,
            stage=Stage.QUEUED,
            awaiting_review=False,
        )
        self._seq = 0

    @workflow.run
    async def run(self, input: DeploymentInput) -> DeploymentResult:
        """The pipeline, stage by stage."""
        await self._publish()  # queued: its app's status already lists it
        if input.prompt is not None:
            await self._moderate(input.prompt)
            bundle_hash = await self._generate(input.prompt)
        elif input.bundle_hash is not None:
            bundle_hash = input.bundle_hash
        else:
            await self._fail(
                "a deployment needs a prompt or a bundle", "InvalidInput", Stage.FAILED
            )
        self._status.bundle_hash = bundle_hash
        if workflow.patched(names.PATCH_MODERATE_CONTENT):
            await self._moderate_content(bundle_hash)
        qa = await self._run_qa_gate(bundle_hash)
        if (
            qa.verdict != "pass"
            and input.prompt is not None  # a hand-written bundle is never rewritten
            and workflow.patched(names.PATCH_GENERATION_REPAIR)
        ):
            bundle_hash, qa = await self._repair_until_it_passes(input.prompt, bundle_hash, qa)
        if qa.verdict != "pass":
            await self._fail(self._qa_failure(qa), names.ERROR_QA_GATE_FAILED)
        host = await self._select_host()
        release = await self._roll_out(host, bundle_hash, qa.evidence_id)
        await self._enter(Stage.LIVE)
        return DeploymentResult(
            deployment_id=input.deployment_id,
            release=release,
            qa_report_hash=qa.report_hash,
            timings=self._status.timings,
            attempts=self._status.attempts,
        )

    @workflow.signal(name=names.SIGNAL_REVIEW)
    async def review(self, raw: RawValue) -> None:
        """An operator's decision on a flagged prompt (ignored unless one is awaited)."""
        decision = await signal_inputs.accept(
            raw,
            ReviewDecision,
            signal=names.SIGNAL_REVIEW,
            app_id=self._input.app_id,
            owner_id=self._input.owner_id,
        )
        if decision is None:
            return
        if not self._status.awaiting_review or self._review is not None:
            workflow.logger.warning("review signal ignored: no review is awaited")
            return
        self._review = decision

    @workflow.query(name=names.QUERY_STATUS)
    def status(self) -> DeploymentStatus:
        """Where the deployment is, and what it has learned so far."""
        return self._status

    # --- stages ---------------------------------------------------------------------

    async def _moderate(self, prompt: str) -> None:
        await self._enter(Stage.MODERATING)
        verdict = await self._moderation(
            names.ACTIVITY_MODERATE,
            ModerateInput(
                prompt=prompt,
                owner_id=self._input.owner_id,
                app_id=self._input.app_id,
                deployment_id=self._input.deployment_id,
            ),
        )
        self._status.moderation_verdict = verdict.verdict
        self._status.moderation_reason = verdict.reason
        if verdict.verdict == "block":
            await self._fail(f"prompt blocked: {verdict.reason}", names.ERROR_PROMPT_BLOCKED)
        if verdict.verdict == "flag":
            await self._await_review(verdict.reason)

    async def _moderation(
        self, activity_name: str, input: ModerateInput | ModerateBundleInput
    ) -> ModerationResult:
        """One moderation activity (the prompt's or the app's content), retried alike."""
        verdict: ModerationResult = await workflow.execute_activity(
            activity_name,
            input,
            result_type=ModerationResult,
            start_to_close_timeout=timedelta(minutes=1),
            retry_policy=MODERATION_RETRY,
        )
        return verdict

    async def _await_review(self, reason: str) -> None:
        self._status.awaiting_review = True
        await self._enter(Stage.AWAITING_REVIEW)
        timeout = timedelta(seconds=self._input.review_timeout_s)
        try:
            await workflow.wait_condition(lambda: self._review is not None, timeout=timeout)
        except TimeoutError:
            self._status.awaiting_review = False  # what the verdict publishes
            await self._fail(
                f"flagged for review ({reason}) and not reviewed within {timeout}",
                names.ERROR_REVIEW_TIMED_OUT,
            )
        finally:
            self._status.awaiting_review = False
        assert self._review is not None
        if self._review.decision == "reject":
            await self._fail(
                f"rejected by {self._review.reviewer}: {self._review.reason or 'no reason given'}",
                names.ERROR_REVIEW_REJECTED,
            )
        workflow.logger.info("flagged prompt approved by %s", self._review.reviewer)

    async def _moderate_content(self, bundle_hash: str) -> None:
        """What the app would show is moderated too: a benign prompt must not yield a
        phishing page (and a hand-written bundle is read the same way)."""
        verdict = await self._moderation(
            names.ACTIVITY_MODERATE_BUNDLE,
            ModerateBundleInput(
                bundle_hash=bundle_hash,
                owner_id=self._input.owner_id,
                app_id=self._input.app_id,
                deployment_id=self._input.deployment_id,
            ),
        )
        if verdict.verdict == "block":
            await self._fail(
                f"the app's content was blocked: {verdict.reason}", names.ERROR_PROMPT_BLOCKED
            )
        if verdict.verdict == "flag":
            # A reviewer who approved the prompt has not seen this content: ask again.
            self._review = None
            self._status.moderation_verdict = verdict.verdict
            self._status.moderation_reason = f"the app's content: {verdict.reason}"
            await self._await_review(f"the app's content: {verdict.reason}")

    async def _generate(self, prompt: str) -> str:
        await self._enter(Stage.GENERATING)
        generated: GenerateOutput = await workflow.execute_activity(
            names.ACTIVITY_GENERATE,
            GenerateInput(
                prompt=prompt, app_id=self._input.app_id, deployment_id=self._input.deployment_id
            ),
            result_type=GenerateOutput,
            start_to_close_timeout=timedelta(minutes=5),
            heartbeat_timeout=timedelta(seconds=30),  # a dead worker costs 30 s, not 5 min
            retry_policy=GENERATION_RETRY,
        )
        return generated.bundle_hash

    async def _run_qa_gate(self, bundle_hash: str, attempt: int = 1) -> QAGateOutcome:
        """The five QA stages in parallel, then one persisted (and, on pass, signed) report.
        A failed gate is the caller's to act on: a generated bundle may be repaired."""
        await self._enter(Stage.TESTING)
        if not workflow.patched(names.PATCH_FULL_QA_GATE):
            return await self._tests_only_gate(bundle_hash)  # deployments started before it
        judged = self._attempt(attempt, bundle_hash) if self._input.prompt is not None else None
        ticket = None
        if workflow.patched(names.PATCH_QA_ADMISSION):  # the gate is admitted as a unit
            ticket = QAGateTicket(
                app_id=self._input.app_id,
                deployment_id=self._input.deployment_id,
                owner_id=self._input.owner_id,
                attempt=attempt,
            )
        stage_input = QAStageInput(
            bundle_hash=bundle_hash,
            deployment_id=self._input.deployment_id,
            policy=self._input.qa_policy,
            app_id=self._input.app_id,  # whose QA floor applies
            gate=ticket,
        )
        tests = RunTestsInput(bundle_hash=bundle_hash, gate=ticket)
        wait = QA_ADMISSION_WAIT if ticket is not None else timedelta(0)
        outcomes = await asyncio.gather(
            self._qa_stage(names.ACTIVITY_RUN_TESTS, tests, wait=wait),
            self._qa_stage(names.ACTIVITY_RUN_MUTATION, stage_input, minutes=60, wait=wait),
            self._qa_stage(names.ACTIVITY_RUN_FUZZ, stage_input, wait=wait),
            self._qa_stage(names.ACTIVITY_RUN_STATIC, stage_input, minutes=5, wait=wait),
            self._qa_stage(names.ACTIVITY_RUN_DEPS, stage_input, minutes=5, wait=wait),
        )
        self._status.qa_stages = list(outcomes)
        gate: QAGateOutcome = await workflow.execute_activity(
            names.ACTIVITY_RECORD_QA_REPORT,
            RecordQAReportInput(
                bundle_hash=bundle_hash,
                deployment_id=self._input.deployment_id,
                app_id=self._input.app_id,
                owner_id=self._input.owner_id,
                stages=list(outcomes),
                policy=self._input.qa_policy,
                attempt=attempt,
            ),
            result_type=QAGateOutcome,
            start_to_close_timeout=timedelta(minutes=1),
            retry_policy=rollout.DATABASE_RETRY,
        )
        self._status.qa_report_hash = gate.report_hash
        if judged is not None:
            judged.report_hash = gate.report_hash
            judged.verdict = gate.verdict
            judged.summary = _short(gate.summary)
        if workflow.patched(names.PATCH_QA_MEMO):
            self._show_operators(gate)
        return gate

    def _show_operators(self, gate: QAGateOutcome) -> None:
        """The verdict and the report's link in the memo (encrypted like every payload),
        where the Temporal UI shows it on the deployment's page."""
        memo = QAMemo(
            verdict=gate.verdict,
            summary=gate.summary,
            report=report_path(self._input.deployment_id),
        )
        workflow.upsert_memo({MEMO_QA: memo})

    async def _repair_until_it_passes(
        self, prompt: str, bundle_hash: str, gate: QAGateOutcome
    ) -> tuple[str, QAGateOutcome]:
        """Give the generator the failed report's findings and judge its repair again, up
        to the deployment's number of repairs: the first bundle that passes goes on, else
        the last verdict stands. Repairing stops early when a repair gives back a bundle
        already judged (it cannot pass where it failed) or the generator gives up."""
        judged = {bundle_hash}
        for attempt in range(2, await self._repairs_allowed() + 2):
            repaired = await self._repair(prompt, attempt, bundle_hash, gate.report_hash)
            if repaired is None:
                break
            if repaired in judged:
                self._attempt(attempt, repaired).verdict = "unchanged"
                break
            judged.add(repaired)
            bundle_hash = self._status.bundle_hash = repaired
            await self._moderate_content(repaired)  # a repair must not smuggle in a page
            gate = await self._run_qa_gate(repaired, attempt)
            if gate.verdict == "pass":
                break
        return bundle_hash, gate

    async def _repairs_allowed(self) -> int:
        """The deployment's number of repairs, or (when its starter left it unset) the
        worker's MB_GENERATION_REPAIRS."""
        repairs = self._input.generation_repairs
        if repairs is None:
            repairs = await workflow.execute_activity(
                names.ACTIVITY_REPAIR_BUDGET,
                RepairBudgetInput(
                    app_id=self._input.app_id, deployment_id=self._input.deployment_id
                ),
                result_type=int,
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=LIGHT_RETRY,
            )
        self._status.repairs_allowed = max(0, min(repairs, MAX_GENERATION_REPAIRS))
        return self._status.repairs_allowed

    async def _repair(
        self, prompt: str, attempt: int, bundle_hash: str, report_hash: str
    ) -> str | None:
        """One repair: the repaired bundle's hash, or None when the generator gave up."""
        await self._enter(Stage.GENERATING)
        record = self._attempt(attempt, None)
        try:
            repaired: RepairOutput = await workflow.execute_activity(
                names.ACTIVITY_REPAIR,
                RepairInput(
                    prompt=prompt,
                    app_id=self._input.app_id,
                    owner_id=self._input.owner_id,
                    deployment_id=self._input.deployment_id,
                    attempt=attempt,
                    bundle_hash=bundle_hash,
                    report_hash=report_hash,
                ),
                result_type=RepairOutput,
                start_to_close_timeout=timedelta(minutes=5),
                heartbeat_timeout=timedelta(seconds=30),
                retry_policy=GENERATION_RETRY,
            )
        except ActivityError as err:
            if isinstance(err.cause, CancelledError):
                raise  # the deployment itself is being cancelled
            record.verdict = "repair_failed"
            record.summary = _short(str(err.cause or err))
            return None
        record.bundle_hash = repaired.bundle_hash
        return repaired.bundle_hash

    async def _qa_stage(
        self,
        activity_name: str,
        stage_input: QAStageInput | RunTestsInput,
        *,
        minutes: int = 30,
        wait: timedelta = timedelta(0),
    ) -> QAStageOutcome:
        outcome: QAStageOutcome = await workflow.execute_activity(
            activity_name,
            stage_input,
            result_type=QAStageOutcome,
            task_queue=names.QA_TASK_QUEUE,
            start_to_close_timeout=timedelta(minutes=minutes) + wait,
            heartbeat_timeout=timedelta(seconds=30),
            retry_policy=QA_RETRY,
        )
        return outcome

    async def _tests_only_gate(self, bundle_hash: str) -> QAGateOutcome:
        outcome = await self._qa_stage(
            names.ACTIVITY_RUN_TESTS, RunTestsInput(bundle_hash=bundle_hash)
        )
        self._status.qa_report_hash = outcome.report_hash
        if outcome.verdict != "pass":
            await self._fail(f"QA gate failed: {outcome.summary}", names.ERROR_QA_GATE_FAILED)
        return QAGateOutcome(
            verdict=outcome.verdict,
            summary=outcome.summary,
            report_hash=outcome.report_hash,
            stages=[outcome],
        )

    async def _select_host(self) -> RuntimeHost:
        try:
            return await rollout.select_host(self._input.app_id)
        except ActivityError as err:
            cause = err.cause
            if (
                isinstance(cause, ApplicationError)
                and cause.type == names.ERROR_NO_RUNTIME_HOST
                and workflow.patched(names.PATCH_PLACEMENT)
            ):
                await self._fail(cause.message, names.ERROR_NO_RUNTIME_HOST)
            raise

    async def _roll_out(
        self, host: RuntimeHost, bundle_hash: str, evidence_id: str | None
    ) -> ReleaseRecord:
        """Start beside the old release, check, switch, watch, record, stop the old one."""
        queue, app_id, owner_id = host.task_queue, self._input.app_id, self._input.owner_id
        await self._enter(Stage.DEPLOYING)
        outcome = await rollout.bring_up(
            queue,
            app_id=app_id,
            version=self._input.version,
            bundle_hash=bundle_hash,
            switch=rollout.Switch(
                owner_id=owner_id,
                reason=f"deploy {self._input.deployment_id}",
                request_id=f"{self._input.deployment_id}-switch",
            ),
            enter=self._enter,
        )
        if isinstance(outcome, rollout.NotLive):
            if outcome.step == "start":
                await self._fail(
                    f"the app did not start: {outcome.detail}", names.ERROR_APP_START_FAILED
                )
            await self._fail(
                f"the new release is not healthy: {outcome.detail}",
                names.ERROR_HEALTH_CHECK_FAILED,
            )
        instance = outcome.instance

        await self._enter(Stage.WATCHING)
        for _ in range(self._input.watch_checks):
            await workflow.sleep(timedelta(seconds=self._input.watch_interval_s))
            health = await rollout.check_health(queue, instance, attempts=3, interval_s=0.5)
            if not health.healthy:
                await self._roll_back_after_switch(queue, instance, health)

        await self._enter(Stage.RECORDING)
        release: ReleaseRecord = await workflow.execute_activity(
            names.ACTIVITY_RECORD_RELEASE,
            RecordReleaseInput(
                app_id=app_id,
                owner_id=owner_id,
                version=instance.version,
                deployment_id=self._input.deployment_id,
                bundle_hash=bundle_hash,
                host=instance.host,
                instance_id=instance.instance_id,
                socket_path=instance.socket_path,
                evidence_id=evidence_id,
            ),
            result_type=ReleaseRecord,
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=rollout.DATABASE_RETRY,
        )
        previous = self._input.previous
        if previous is not None and previous.instance_id != instance.instance_id:
            await rollout.stop_instance(
                names.runtime_task_queue(previous.host), previous.instance_id
            )
        return release

    async def _roll_back_after_switch(
        self, queue: str, instance: InstanceInfo, health: HealthCheckResult
    ) -> NoReturn:
        """Put the previous release back (it is still running) and retire the new one."""
        previous = self._input.previous
        request_id = f"{self._input.deployment_id}-auto-rollback"
        if previous is not None:
            previous_queue = names.runtime_task_queue(previous.host)
            restored = await rollout.start_instance(
                previous_queue,
                app_id=self._input.app_id,
                version=previous.version,
                bundle_hash=previous.bundle_hash,
            )
            await rollout.switch_traffic(
                app_id=self._input.app_id,
                owner_id=self._input.owner_id,
                instance=restored,
                reason=f"automatic rollback of {self._input.deployment_id}: {health.detail}",
                request_id=request_id,
                rollback="automatic",
                actor="health-watch",
            )
            where = f"rolled back to v{previous.version}"
        else:
            await rollout.clear_route(
                app_id=self._input.app_id,
                reason=f"first release failed after the switch: {health.detail}",
                request_id=request_id,
            )
            where = "no earlier release to roll back to; the app is offline"
        await rollout.stop_instance(queue, instance.instance_id)
        await self._fail(
            f"v{instance.version} failed its health check after the switch "
            f"({health.detail}); {where}",
            names.ERROR_ROLLED_BACK,
            Stage.ROLLED_BACK,
        )

    # --- bookkeeping ----------------------------------------------------------------

    def _attempt(self, attempt: int, bundle_hash: str | None) -> GenerationAttempt:
        """The status's record of one bundle of a prompt deployment (made on first use)."""
        attempts = self._status.attempts
        record = next((a for a in attempts if a.attempt == attempt), None)
        if record is None:
            record = GenerationAttempt(attempt=attempt)
            attempts.append(record)
        record.bundle_hash = bundle_hash or record.bundle_hash
        return record

    def _qa_failure(self, gate: QAGateOutcome) -> str:
        """The rejection's message: the last verdict, and how many repairs were judged."""
        judged = [a for a in self._status.attempts if a.verdict in ("pass", "fail")]
        if len(judged) < 2:
            return f"QA gate failed: {gate.summary}"
        return f"QA gate failed on attempt {judged[-1].attempt} (after repairs): {gate.summary}"

    async def _enter(self, stage: Stage) -> None:
        """Close the current stage's timing and make ``stage`` visible to operators and
        to the API."""
        now = workflow.now()
        if self._status.stage is not Stage.QUEUED:
            self._status.timings.append(
                StageTiming(
                    stage=self._status.stage, started_at=self._stage_started, finished_at=now
                )
            )
        self._stage_started = now
        self._status.stage = stage
        workflow.upsert_search_attributes([names.SA_STAGE.value_set(stage.value)])
        await self._publish()

    async def _publish(self) -> None:
        """Put the status where the API reads it (before the stage's first step)."""
        if status_views.enabled():
            self._seq = status_views.next_seq(self._seq)
            await status_views.publish_deployment(self._status, self._seq)

    async def _fail(self, message: str, error_type: str, stage: Stage | None = None) -> NoReturn:
        """End the deployment with a verdict that retrying cannot change."""
        final = stage or (
            Stage.REJECTED
            if error_type
            in (
                names.ERROR_PROMPT_BLOCKED,
                names.ERROR_REVIEW_REJECTED,
                names.ERROR_REVIEW_TIMED_OUT,
            )
            else Stage.FAILED
        )
        await self._enter(final)
        attempts = self._status.attempts
        for refused in (a for a in attempts if a.verdict == "pending" and final is Stage.REJECTED):
            refused.verdict, refused.summary = "blocked", _short(message)  # by its moderation
        # The bundles judged travel with the verdict, so the app's history can show them.
        details = [[a.model_dump(mode="json") for a in attempts]] if len(attempts) > 1 else []
        raise ApplicationError(message, *details, type=error_type, non_retryable=True)


def _short(text: str) -> str:
    """A summary that fits a status record."""
    return text if len(text) <= 1000 else text[:990] + " [... cut]"

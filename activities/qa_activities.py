"""The QA activities. The five stage activities (on the ``mb-qa`` queue) each run one
stage through :class:`activities.qa.gate.QAGate`, store its report in the artifact
store and return only its verdict, summary and the report's hash (a failing stage is
a result, not an error); the report activity (pipeline queue) assembles them into one
persisted report and signs evidence when it passes.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

from temporalio import activity

from activities.heartbeat import keep_alive
from activities.qa.evidence import EvidenceService
from activities.qa.gate import QAGate, assemble_report, parse_stage_report
from activities.qa_admission import QAAdmission
from runtime.envs import EnvBuilder, EnvBuildError
from schemas.bundle import AppBundle
from schemas.qa import (
    QAGateOutcome,
    QAGateReport,
    QAGateTicket,
    QAPolicy,
    QAStageInput,
    QAStageOutcome,
    RecordQAReportInput,
    RunTestsInput,
    StageReport,
    effective_policy,
)
from schemas.settings import Settings
from store.artifacts import ArtifactStore
from store.bundle_cache import BundleCache
from store.bundles import bundle_from_bytes
from store.qa_policy_overrides import QAPolicyOverrides
from store.qa_reports import QAReportRepository
from temporal import names


class QAActivities:
    """QA stage activities: a failing stage is a result (a verdict), not an error.

    With an ``admission``, a stage first waits (heartbeating, holding no slot) until
    its gate is admitted to the worker's cores.
    """

    def __init__(
        self,
        bundles: BundleCache,
        artifacts: ArtifactStore,
        envs: EnvBuilder,
        settings: Settings,
        overrides: QAPolicyOverrides | None = None,
        admission: QAAdmission | None = None,
    ) -> None:
        self._bundles = bundles
        self._artifacts = artifacts
        self._settings = settings
        self._overrides = overrides
        self._admission = admission
        self._gate = QAGate(envs, settings)

    async def _policy(self, input: QAStageInput) -> QAPolicy:
        """The thresholds this stage applies: what the deployment asked for, never weaker
        than its app's floor (a workflow started without the API's check included)."""
        platform = self._settings.qa_policy()
        if self._overrides is None:
            return effective_policy(input.policy, platform)
        return effective_policy(input.policy, await self._overrides.floor(input.app_id, platform))

    @activity.defn(name=names.ACTIVITY_RUN_TESTS)
    async def run_tests(self, input: RunTestsInput) -> QAStageOutcome:
        """Tests x3 (fixed order, then shuffled)."""
        s = self._settings

        async def stage(bundle_dir: Path, bundle: AppBundle) -> StageReport:
            return await self._gate.tests(
                bundle_dir,
                bundle,
                runs=input.runs or s.qa_test_runs,
                timeout_s=input.timeout_s or s.qa_test_timeout_s,
                seed_base=input.bundle_hash,
                heartbeat=activity.heartbeat,
            )

        return await self._stage("tests", input.bundle_hash, stage, input.gate)

    @activity.defn(name=names.ACTIVITY_RUN_MUTATION)
    async def run_mutation(self, input: QAStageInput) -> QAStageOutcome:
        """Mutation testing: are the bundle's tests strong enough to notice a change?"""
        policy = await self._policy(input)
        return await self._stage(
            "mutation",
            input.bundle_hash,
            lambda d, b: self._gate.mutation(d, b, policy, activity.heartbeat),
            input.gate,
        )

    @activity.defn(name=names.ACTIVITY_RUN_FUZZ)
    async def run_fuzz(self, input: QAStageInput) -> QAStageOutcome:
        """Fuzz testing of the app's functions and API."""
        policy = await self._policy(input)
        return await self._stage(
            "fuzz",
            input.bundle_hash,
            lambda d, b: self._gate.fuzz(d, b, policy, input.bundle_hash, activity.heartbeat),
            input.gate,
        )

    @activity.defn(name=names.ACTIVITY_RUN_STATIC)
    async def run_static(self, input: QAStageInput) -> QAStageOutcome:
        """Static analysis with bandit."""
        policy = await self._policy(input)
        return await self._stage(
            "static", input.bundle_hash, lambda d, b: self._gate.static(d, policy), input.gate
        )

    @activity.defn(name=names.ACTIVITY_RUN_DEPS)
    async def run_deps(self, input: QAStageInput) -> QAStageOutcome:
        """Known vulnerabilities in the installed dependencies."""
        return await self._stage(
            "deps", input.bundle_hash, lambda d, b: self._gate.deps(b), input.gate
        )

    async def _stage(
        self,
        name: str,
        bundle_hash: str,
        run: Callable[[Path, AppBundle], Awaitable[StageReport]],
        gate: QAGateTicket | None,
    ) -> QAStageOutcome:
        async with keep_alive(f"qa {name}"), self._admitted(gate):
            started = time.monotonic()
            bundle_dir, bundle = await self._bundles.checkout(bundle_hash)
            try:
                report = await run(bundle_dir, bundle)
            except EnvBuildError:
                raise  # infrastructure (the index is unreachable...): let Temporal retry
        digest = await self._artifacts.put(f"qa-{name}", report.model_dump_json().encode())
        return QAStageOutcome(
            stage=name,
            verdict=report.verdict,
            summary=report.reason,
            report_hash=digest,
            duration_s=round(time.monotonic() - started, 3),
        )

    @contextlib.asynccontextmanager
    async def _admitted(self, gate: QAGateTicket | None) -> AsyncIterator[None]:
        """Inside the gate's admission (at once without an admission controller). A stage
        scheduled without a ticket (a workflow started before tickets) shares one with
        the other stages of its workflow, under no owner."""
        if self._admission is None:
            yield
            return
        if gate is None:
            gate = QAGateTicket(app_id="", deployment_id=activity.info().workflow_id, owner_id="")
        async with self._admission.admitted(gate):
            yield


class QAReportActivities:
    """Assembles the stage reports, stores the gate report, signs evidence (pipeline queue)."""

    def __init__(
        self,
        artifacts: ArtifactStore,
        reports: QAReportRepository,
        evidence: EvidenceService,
        settings: Settings,
        overrides: QAPolicyOverrides | None = None,
    ) -> None:
        self._artifacts = artifacts
        self._reports = reports
        self._evidence = evidence
        self._settings = settings
        self._overrides = overrides

    @activity.defn(name=names.ACTIVITY_RECORD_QA_REPORT)
    async def record_qa_report(self, input: RecordQAReportInput) -> QAGateOutcome:
        """Idempotent: a retry returns the report and evidence recorded the first time
        for this attempt (each bundle a prompt deployment's repairs produce has its own)."""
        stages = [
            parse_stage_report(await self._artifacts.get(s.report_hash)) for s in input.stages
        ]
        platform = self._settings.qa_policy()
        floor = (
            platform
            if self._overrides is None
            else await self._overrides.floor(input.app_id, platform)
        )
        report = assemble_report(
            input.bundle_hash,
            input.deployment_id,
            stages,
            effective_policy(input.policy, floor),  # what the stages applied
            duration_s=max((s.duration_s for s in input.stages), default=0.0),
            egress=bundle_from_bytes(await self._artifacts.get(input.bundle_hash)).manifest.egress,
        )
        failed = [s for s in report.stages if s.verdict == "fail"]
        summary = (
            "; ".join(f"{s.stage}: {s.reason}" for s in failed)
            if failed
            else "all five stages passed"
        )
        digest = await self._artifacts.put("qa-report", report.model_dump_json().encode())
        row = await self._reports.save_report(
            deployment_id=input.deployment_id,
            app_id=input.app_id,
            owner_id=input.owner_id,
            bundle_hash=input.bundle_hash,
            verdict=report.verdict,
            report_sha256=digest,
            summary=summary,
            attempt=input.attempt,
        )
        evidence_id = None
        if row.verdict == "pass":
            stored = QAGateReport.model_validate_json(await self._artifacts.get(row.report_sha256))
            evidence = await self._evidence.sign(
                stored,
                report_hash=row.report_sha256,
                app_id=input.app_id,
                deployment_id=input.deployment_id,
            )
            evidence_id = evidence.id
        return QAGateOutcome(
            verdict="pass" if row.verdict == "pass" else "fail",
            summary=row.summary,
            report_hash=row.report_sha256,
            evidence_id=evidence_id,
            stages=input.stages,
        )

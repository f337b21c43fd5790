"""The QA report activity: one persisted report per deployment, evidence when it passes."""

from __future__ import annotations

from temporalio import activity

from activities.qa.evidence import EvidenceService
from activities.qa_gate import assemble_report, parse_stage_report
from schemas.qa import QAGateOutcome, QAGateReport, RecordQAReportInput, effective_policy
from schemas.settings import Settings
from store.artifacts import ArtifactStore
from store.qa_policy_overrides import QAPolicyOverrides
from store.qa_reports import QAReportRepository
from temporal import names


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
        """Idempotent: a retry returns the report and evidence recorded the first time."""
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
        )
        failed = [s for s in input.stages if s.verdict != "pass"]
        summary = (
            "; ".join(f"{s.stage}: {s.summary}" for s in failed)
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

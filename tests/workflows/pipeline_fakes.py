"""Stand-in activities for workflow tests, registered under the real activity names.

Workflow tests check orchestration (ordering, verdicts, rollback, signals), so
each activity here records its call and answers from a scripted behaviour.
The real activities are tested against real servers elsewhere.
"""

from __future__ import annotations

import contextlib
import hashlib
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from temporalio import activity
from temporalio.client import Client
from temporalio.exceptions import ApplicationError
from temporalio.worker import Worker

from activities.heartbeat import keep_alive
from activities.privacy import PrivacyActivities
from activities.privacy_erasure import PrivacyErasureActivities
from activities.qa_admission import QAAdmission
from activities.status_views import StatusViewActivities
from runtime.base import instance_id_for
from schemas.anomalies import AnomalyScanInput, AnomalyScanResult
from schemas.backups import (
    BackupAlertInput,
    BackupRunInput,
    BackupVerification,
    BaseBackup,
    DrillResult,
    PruneResult,
)
from schemas.deployment import ReleaseRecord
from schemas.generation import (
    GenerateInput,
    GenerateOutput,
    RepairBudgetInput,
    RepairInput,
    RepairOutput,
)
from schemas.hosts import PlacementRequest
from schemas.keys import RetireKeysInput, RetireKeysResult, RewrapBatchInput, RewrapBatchResult
from schemas.mail import MailDeliveryInput, MailDeliveryResult
from schemas.moderation import (
    CategoryScore,
    ModerateBundleInput,
    ModerateInput,
    ModerationCategory,
    ModerationResult,
)
from schemas.privacy import (
    ErasureInput,
    ErasurePlan,
    ErasureStatus,
    ExportInput,
    ExportResult,
    FinishErasureInput,
    RetireAppInput,
)
from schemas.qa import (
    QAGateOutcome,
    QAGateTicket,
    QAStageInput,
    QAStageOutcome,
    RecordQAReportInput,
    RunTestsInput,
)
from schemas.refusals import RefusedSignal
from schemas.runtime import (
    ClearRouteInput,
    HealthCheckInput,
    HealthCheckResult,
    InstanceInfo,
    RecordReleaseInput,
    RuntimeHost,
    StartInstanceInput,
    StopInstanceInput,
    SwitchTrafficInput,
    SwitchTrafficResult,
)
from schemas.status_views import RecordAppStatusInput, RecordDeploymentStatusInput
from temporal import names
from workflows.registry import ALL_WORKFLOWS

HOST = "test-host"


@contextlib.asynccontextmanager
async def fake_workers(client: Client, fake: FakePipeline) -> AsyncIterator[FakePipeline]:
    """Workers on the pipeline, QA and runtime-host queues, all backed by ``fake``."""
    async with contextlib.AsyncExitStack() as stack:
        for queue in (
            names.PIPELINE_TASK_QUEUE,
            names.QA_TASK_QUEUE,
            names.runtime_task_queue(HOST),
        ):
            await stack.enter_async_context(
                Worker(
                    client,
                    task_queue=queue,
                    workflows=list(ALL_WORKFLOWS) if queue == names.PIPELINE_TASK_QUEUE else [],
                    activities=fake.activities(),
                )
            )
        yield fake


@dataclass
class FakePipeline:
    """Scripted activities plus a log of what the workflow asked for."""

    qa_verdict: str = "pass"
    failing_stage: str = "tests"
    """Which QA stage fails when ``qa_verdict`` is "fail"."""
    start_fails_for: set[int] = field(default_factory=set)
    declared_secrets: list[str] | None = None
    """What record_release says the release's bundle declares (None: not recorded)."""
    unhealthy: Callable[[str, int], bool] = lambda instance_id, call: False
    calls: list[str] = field(default_factory=list)
    content_verdict: str = "allow"
    """What moderating the generated app's visible text answers."""
    privacy: PrivacyActivities | None = None
    """Real privacy activities, for tests that download the archive."""
    erasure: PrivacyErasureActivities | None = None
    """Real erasure activities (all but deleting histories, which needs visibility)."""
    erasure_apps: list[str] = field(default_factory=lambda: ["shop", "blog"])
    backup_problems: list[str] = field(default_factory=list)
    """What verifying the new backup finds (nothing: it verifies)."""
    drill_problem: str | None = None
    routes: dict[str, str] = field(default_factory=dict)
    running: set[str] = field(default_factory=set)
    releases: dict[str, ReleaseRecord] = field(default_factory=dict)
    health_calls: dict[str, int] = field(default_factory=dict)
    data_keys_to_rewrap: int = 5
    refused: list[RefusedSignal] = field(default_factory=list)
    """Signals the workflows refused and asked to record."""
    repairs_allowed: int = 2
    """What the worker's MB_GENERATION_REPAIRS says (the repair-budget activity)."""
    repair_fixes_from: int | None = None
    """The attempt from which a repaired bundle passes the gate (None: no repair does)."""
    repair_changes: bool = True
    """False: a repair gives back the bundle it was given (as blueprints do)."""
    fixed_bundles: set[str] = field(default_factory=set)
    no_host: str | None = None
    """Placement's refusal (None: every release goes on HOST)."""
    status_views: StatusViewActivities | None = None
    """Real status publishing (the read model the API reads); None: published nowhere."""
    qa_admission: QAAdmission | None = None
    """A real admission controller the QA stages wait for (None: they run at once)."""
    qa_gates: list[tuple[str, QAGateTicket | None, timedelta | None]] = field(default_factory=list)
    """Each QA stage's gate ticket and its start-to-close timeout, as scheduled."""

    def activities(self) -> list[Callable[..., object]]:
        return [
            self.moderate,
            self.generate,
            self.repair,
            self.repair_budget,
            self.run_tests,
            self.run_mutation,
            self.run_fuzz,
            self.run_static,
            self.run_deps,
            self.record_qa_report,
            self.select_host,
            self.start_instance,
            self.health_check,
            self.stop_instance,
            self.switch_traffic,
            self.clear_route,
            self.record_release,
            self.rewrap_data_keys,
            self.retire_master_keys,
            self.scan_anomalies,
            self.moderate_bundle_text,
            self.build_export,
            self.notify_export,
            self.begin_erasure,
            self.notify_erasure,
            self.retire_user_app,
            self.shred_user_key,
            self.erase_user_data,
            self.delete_user_histories,
            self.finish_erasure,
            self.take_base_backup,
            self.verify_backup,
            self.restore_drill,
            self.prune_backups,
            self.alert_backup,
            self.record_refused_signal,
            self.deliver_mail,
            self.record_app_status,
            self.record_deployment_status,
        ]

    @activity.defn(name=names.ACTIVITY_REWRAP_DATA_KEYS)
    async def rewrap_data_keys(self, input: RewrapBatchInput) -> RewrapBatchResult:
        done = min(input.batch_size, self.data_keys_to_rewrap)
        self.data_keys_to_rewrap -= done
        self.calls.append(f"rewrap:{done}")
        return RewrapBatchResult(rewrapped=done, remaining=self.data_keys_to_rewrap)

    @activity.defn(name=names.ACTIVITY_RETIRE_MASTER_KEYS)
    async def retire_master_keys(self, input: RetireKeysInput) -> RetireKeysResult:
        self.calls.append(f"retire-all-but:{input.keep}")
        return RetireKeysResult(retired=["0" * 16])

    @activity.defn(name=names.ACTIVITY_SCAN_ANOMALIES)
    async def scan_anomalies(self, input: AnomalyScanInput) -> AnomalyScanResult:
        self.calls.append(f"scan:{input.thresholds.window_s}")
        return AnomalyScanResult(findings=1, new_alerts=[7], suspended=[])

    @activity.defn(name=names.ACTIVITY_BUILD_EXPORT)
    async def build_export(self, input: ExportInput) -> ExportResult:
        self.calls.append(f"export:{input.user_id}")
        if self.privacy is not None:  # a test that wants the real archive
            return await self.privacy.build_export(input)
        return ExportResult(export_id=input.export_id, sha256="e" * 64, size=1, sections={})

    @activity.defn(name=names.ACTIVITY_NOTIFY_EXPORT)
    async def notify_export(self, input: ExportInput) -> bool:
        self.calls.append(f"notify-export:{input.user_id}")
        if self.privacy is not None:
            return await self.privacy.notify_export(input)
        return True

    @activity.defn(name=names.ACTIVITY_BEGIN_ERASURE)
    async def begin_erasure(self, input: ErasureInput) -> ErasurePlan:
        self.calls.append(f"erase-begin:{input.user_id}")
        if self.erasure is not None:
            return await self.erasure.begin_erasure(input)
        return ErasurePlan(app_ids=self.erasure_apps, notify=True)

    @activity.defn(name=names.ACTIVITY_NOTIFY_ERASURE)
    async def notify_erasure(self, input: ErasureInput) -> bool:
        self.calls.append("erase-notify")
        if self.erasure is not None:
            return await self.erasure.notify_erasure(input)
        return True

    @activity.defn(name=names.ACTIVITY_RETIRE_USER_APP)
    async def retire_user_app(self, input: RetireAppInput) -> bool:
        self.calls.append(f"erase-retire:{input.app_id}")
        if self.erasure is not None:
            return await self.erasure.retire_user_app(input)
        return True

    @activity.defn(name=names.ACTIVITY_SHRED_USER_KEY)
    async def shred_user_key(self, input: ErasureInput) -> bool:
        self.calls.append("erase-shred")
        if self.erasure is not None:
            return await self.erasure.shred_user_key(input)
        return True

    @activity.defn(name=names.ACTIVITY_ERASE_USER_DATA)
    async def erase_user_data(self, input: ErasureInput) -> dict[str, int]:
        self.calls.append("erase-data")
        if self.erasure is not None:
            return await self.erasure.erase_user_data(input)
        return {"secrets": 2, "releases": 3}

    @activity.defn(name=names.ACTIVITY_DELETE_USER_HISTORIES)
    async def delete_user_histories(self, input: ErasureInput) -> int:
        # The time-skipping test server has no visibility store to list executions
        # by owner; the real activity is tested against the dev server.
        self.calls.append("erase-histories")
        return 4

    @activity.defn(name=names.ACTIVITY_FINISH_ERASURE)
    async def finish_erasure(self, input: FinishErasureInput) -> ErasureStatus:
        self.calls.append("erase-finish")
        if self.erasure is not None:
            return await self.erasure.finish_erasure(input)
        return ErasureStatus(
            user_id=input.user_id,
            requested_by="operator:test",
            requested_at=datetime(2026, 1, 1, tzinfo=UTC),
            erased={"secrets": 2, "releases": 3},
            key_shredded=True,
            finished_at=datetime(2026, 1, 1, tzinfo=UTC),
        )

    @activity.defn(name=names.ACTIVITY_TAKE_BASE_BACKUP)
    async def take_base_backup(self, input: BackupRunInput) -> BaseBackup:
        self.calls.append(f"backup:{input.reason}")
        at = datetime(2026, 1, 1, 3, 17, tzinfo=UTC)
        return BaseBackup(
            id="20260101T031700000000Z",
            started_at=at,
            finished_at=at,
            start_lsn="0/2000028",
            end_lsn="0/2000100",
            timeline=1,
            start_wal="000000010000000000000002",
            wal_segment_size=16 * 1024 * 1024,
            size_bytes=1,
            tool_version="pg_basebackup (PostgreSQL) 18.6",
        )

    @activity.defn(name=names.ACTIVITY_VERIFY_BACKUP)
    async def verify_backup(self, backup_id: str) -> BackupVerification:
        self.calls.append("backup-verify")
        return BackupVerification(
            backup_id=backup_id,
            ok=not self.backup_problems,
            problems=self.backup_problems,
            notes=[],
            checked_segments=1,
        )

    @activity.defn(name=names.ACTIVITY_RESTORE_DRILL)
    async def restore_drill(self, backup_id: str) -> DrillResult:
        self.calls.append("backup-drill")
        return DrillResult(
            backup_id=backup_id,
            ok=self.drill_problem is None,
            target=datetime(2026, 1, 1, 3, 18, tzinfo=UTC),
            elapsed_s=1.0,
            problem=self.drill_problem,
        )

    @activity.defn(name=names.ACTIVITY_PRUNE_BACKUPS)
    async def prune_backups(self, keep: int) -> PruneResult:
        self.calls.append(f"backup-prune:{keep}")
        return PruneResult(kept=[], removed_backups=[], removed_incomplete=[], removed_wal=[])

    @activity.defn(name=names.ACTIVITY_ALERT_BACKUP)
    async def alert_backup(self, input: BackupAlertInput) -> int | None:
        self.calls.append(f"backup-alert:{input.rule}")
        return 1

    @activity.defn(name=names.ACTIVITY_RECORD_REFUSED_SIGNAL)
    async def record_refused_signal(self, input: RefusedSignal) -> bool:
        self.calls.append(f"refused:{input.signal}")
        self.refused.append(input)
        return True

    @activity.defn(name=names.ACTIVITY_RECORD_APP_STATUS)
    async def record_app_status(self, input: RecordAppStatusInput) -> bool:
        if self.status_views is None:
            return True
        return await self.status_views.record_app_status(input)

    @activity.defn(name=names.ACTIVITY_RECORD_DEPLOYMENT_STATUS)
    async def record_deployment_status(self, input: RecordDeploymentStatusInput) -> bool:
        if self.status_views is None:
            return True
        return await self.status_views.record_deployment_status(input)

    @activity.defn(name=names.ACTIVITY_DELIVER_MAIL)
    async def deliver_mail(self, input: MailDeliveryInput) -> MailDeliveryResult:
        self.calls.append(f"deliver-mail:{input.limit}")
        return MailDeliveryResult(sent=2, failed=1, given_up=[3], alerts=[1])

    @activity.defn(name=names.ACTIVITY_MODERATE_BUNDLE)
    async def moderate_bundle_text(self, input: ModerateBundleInput) -> ModerationResult:
        self.calls.append("moderate-content")
        if self.content_verdict == "allow":
            return ModerationResult(verdict="allow", reason="no policy matched", backend="local")
        return ModerationResult(
            verdict=self.content_verdict,
            categories=(CategoryScore(category=ModerationCategory.PHISHING, score=0.8),),
            reason="phishing: a real brand's login page",
            backend="local",
        )

    @activity.defn(name=names.ACTIVITY_MODERATE)
    async def moderate(self, input: ModerateInput) -> ModerationResult:
        self.calls.append("moderate")
        if "BLOCKME" in input.prompt:
            return ModerationResult(
                verdict="block",
                categories=(CategoryScore(category=ModerationCategory.PHISHING, score=0.97),),
                reason="phishing: credential harvesting",
                backend="local",
            )
        if "FLAGME" in input.prompt:
            return ModerationResult(verdict="flag", reason="ambiguous", backend="local")
        return ModerationResult(verdict="allow", reason="no policy matched", backend="local")

    @activity.defn(name=names.ACTIVITY_GENERATE)
    async def generate(self, input: GenerateInput) -> GenerateOutput:
        self.calls.append("generate")
        return GenerateOutput(
            bundle_hash=uuid.uuid5(uuid.NAMESPACE_URL, input.prompt).hex * 2,
            app_name="Test App",
            app_kind="todo",
            file_count=4,
            backend="blueprint",
        )

    @activity.defn(name=names.ACTIVITY_REPAIR_BUDGET)
    async def repair_budget(self, input: RepairBudgetInput) -> int:
        self.calls.append("repair-budget")
        return self.repairs_allowed

    @activity.defn(name=names.ACTIVITY_REPAIR)
    async def repair(self, input: RepairInput) -> RepairOutput:
        self.calls.append(f"repair:{input.attempt}")
        digest = input.bundle_hash
        if self.repair_changes:
            digest = hashlib.sha256(f"{input.bundle_hash}:{input.attempt}".encode()).hexdigest()
        if self.repair_fixes_from is not None and input.attempt >= self.repair_fixes_from:
            self.fixed_bundles.add(digest)
        return RepairOutput(bundle_hash=digest, file_count=4, backend="openai", findings_chars=1)

    def _stage(self, stage: str, bundle_hash: str = "") -> QAStageOutcome:
        self.calls.append(f"qa:{stage}")
        failed = (
            self.qa_verdict != "pass"
            and stage == self.failing_stage
            and bundle_hash not in self.fixed_bundles
        )
        return QAStageOutcome(
            stage=stage,
            verdict="fail" if failed else "pass",
            summary="test_add failed" if failed else f"{stage} passed",
            report_hash=hashlib.sha256(stage.encode()).hexdigest(),
        )

    async def _gated(
        self, stage: str, bundle_hash: str, gate: QAGateTicket | None
    ) -> QAStageOutcome:
        self.qa_gates.append((stage, gate, activity.info().start_to_close_timeout))
        if self.qa_admission is None or gate is None:
            return self._stage(stage, bundle_hash)
        async with keep_alive(f"qa {stage}"), self.qa_admission.admitted(gate):
            return self._stage(stage, bundle_hash)

    @activity.defn(name=names.ACTIVITY_RUN_TESTS)
    async def run_tests(self, input: RunTestsInput) -> QAStageOutcome:
        return await self._gated("tests", input.bundle_hash, input.gate)

    @activity.defn(name=names.ACTIVITY_RUN_MUTATION)
    async def run_mutation(self, input: QAStageInput) -> QAStageOutcome:
        return await self._gated("mutation", input.bundle_hash, input.gate)

    @activity.defn(name=names.ACTIVITY_RUN_FUZZ)
    async def run_fuzz(self, input: QAStageInput) -> QAStageOutcome:
        return await self._gated("fuzz", input.bundle_hash, input.gate)

    @activity.defn(name=names.ACTIVITY_RUN_STATIC)
    async def run_static(self, input: QAStageInput) -> QAStageOutcome:
        return await self._gated("static", input.bundle_hash, input.gate)

    @activity.defn(name=names.ACTIVITY_RUN_DEPS)
    async def run_deps(self, input: QAStageInput) -> QAStageOutcome:
        return await self._gated("deps", input.bundle_hash, input.gate)

    @activity.defn(name=names.ACTIVITY_RECORD_QA_REPORT)
    async def record_qa_report(self, input: RecordQAReportInput) -> QAGateOutcome:
        self.calls.append("qa:report")
        failed = [s for s in input.stages if s.verdict != "pass"]
        return QAGateOutcome(
            verdict="fail" if failed else "pass",
            summary="; ".join(f"{s.stage}: {s.summary}" for s in failed) or "all stages passed",
            report_hash="e" * 64
            if input.attempt == 1
            else hashlib.sha256(f"report:{input.attempt}".encode()).hexdigest(),
            evidence_id=None if failed else f"ev-{input.deployment_id}",
            stages=input.stages,
        )

    @activity.defn(name=names.ACTIVITY_SELECT_HOST)
    async def select_host(self, input: PlacementRequest | str) -> RuntimeHost:
        if isinstance(input, str):
            self.calls.append("select_host")
        else:
            self.calls.append(f"place:{input.app_id}:{','.join(input.prefer)}")
        if self.no_host is not None:
            raise ApplicationError(
                self.no_host, type=names.ERROR_NO_RUNTIME_HOST, non_retryable=True
            )
        return RuntimeHost(host=HOST, task_queue=names.runtime_task_queue(HOST))

    @activity.defn(name=names.ACTIVITY_START_INSTANCE)
    async def start_instance(self, input: StartInstanceInput) -> InstanceInfo:
        instance_id = instance_id_for(input.app_id, input.version, input.generation)
        self.calls.append(f"start:{instance_id}")
        if input.version in self.start_fails_for:
            raise ApplicationError(
                "ImportError: no module named main",
                type=names.ERROR_APP_START_FAILED,
                non_retryable=True,
            )
        self.running.add(instance_id)
        return InstanceInfo(
            instance_id=instance_id,
            app_id=input.app_id,
            version=input.version,
            host=HOST,
            socket_path=f"/run/{instance_id}.sock",
        )

    @activity.defn(name=names.ACTIVITY_HEALTH_CHECK)
    async def health_check(self, input: HealthCheckInput) -> HealthCheckResult:
        call = self.health_calls.get(input.instance_id, 0) + 1
        self.health_calls[input.instance_id] = call
        self.calls.append(f"health:{input.instance_id}")
        if self.unhealthy(input.instance_id, call):
            return HealthCheckResult(healthy=False, status_code=503, detail="HTTP 503")
        return HealthCheckResult(healthy=True, status_code=200, detail="HTTP 200")

    @activity.defn(name=names.ACTIVITY_STOP_INSTANCE)
    async def stop_instance(self, input: StopInstanceInput) -> None:
        self.calls.append(f"stop:{input.instance_id}")
        self.running.discard(input.instance_id)

    @activity.defn(name=names.ACTIVITY_SWITCH_TRAFFIC)
    async def switch_traffic(self, input: SwitchTrafficInput) -> SwitchTrafficResult:
        self.calls.append(f"switch:{input.instance_id}")
        previous = self.routes.get(input.app_id)
        self.routes[input.app_id] = input.instance_id
        return SwitchTrafficResult(
            previous_version=int(previous.rsplit("-v", 1)[1].split("-")[0]) if previous else None
        )

    @activity.defn(name=names.ACTIVITY_CLEAR_ROUTE)
    async def clear_route(self, input: ClearRouteInput) -> None:
        self.calls.append(f"clear:{input.app_id}")
        self.routes.pop(input.app_id, None)

    @activity.defn(name=names.ACTIVITY_RECORD_RELEASE)
    async def record_release(self, input: RecordReleaseInput) -> ReleaseRecord:
        self.calls.append(f"record:{input.instance_id}")
        record = self.releases.setdefault(
            input.deployment_id,
            ReleaseRecord(
                version=input.version,
                deployment_id=input.deployment_id,
                bundle_hash=input.bundle_hash,
                host=input.host,
                instance_id=input.instance_id,
                socket_path=input.socket_path,
                created_at=datetime.now(UTC),
                evidence_id=input.evidence_id,
                secrets=self.declared_secrets,
            ),
        )
        return record

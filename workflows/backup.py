"""BackupWorkflow: the daily base backup, proven to restore (run by a Temporal Schedule).

The story: take a base backup while WAL keeps being archived, verify it
(pg_verifybackup and the archive's continuity), restore it to now in a scratch
directory as a drill, then prune what is no longer needed. A backup that does
not verify, or a drill that does not restore, raises an operator alert and
fails the run (retrying cannot change that verdict); old backups are then kept.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from schemas.backups import (
        BackupAlertInput,
        BackupAlertRule,
        BackupRunInput,
        BackupRunResult,
        BackupVerification,
        BaseBackup,
        DrillResult,
        PruneResult,
    )
    from temporal import names

BACKUP_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=5),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=2),
    maximum_attempts=3,
)


@workflow.defn(name=names.BACKUP_WORKFLOW_TYPE)
class BackupWorkflow:
    """Back up, verify, drill, prune."""

    @workflow.run
    async def run(self, input: BackupRunInput) -> BackupRunResult:
        """One backup round; fails (after alerting) when the backup cannot be trusted."""
        backup: BaseBackup = await workflow.execute_activity(
            names.ACTIVITY_TAKE_BASE_BACKUP,
            input,
            result_type=BaseBackup,
            start_to_close_timeout=timedelta(hours=6),
            heartbeat_timeout=timedelta(minutes=1),
            retry_policy=BACKUP_RETRY,
        )
        verification: BackupVerification = await workflow.execute_activity(
            names.ACTIVITY_VERIFY_BACKUP,
            backup.id,
            result_type=BackupVerification,
            start_to_close_timeout=timedelta(hours=1),
            retry_policy=BACKUP_RETRY,
        )
        if not verification.ok:
            await self._alert("backup_failed", backup.id, "; ".join(verification.problems))

        drill: DrillResult | None = None
        if input.drill:
            drill = await workflow.execute_activity(
                names.ACTIVITY_RESTORE_DRILL,
                backup.id,
                result_type=DrillResult,
                start_to_close_timeout=timedelta(hours=2),
                heartbeat_timeout=timedelta(minutes=1),
                retry_policy=BACKUP_RETRY,
            )
            if not drill.ok:
                await self._alert("restore_drill_failed", backup.id, drill.problem or "unknown")

        pruned: PruneResult = await workflow.execute_activity(
            names.ACTIVITY_PRUNE_BACKUPS,
            input.keep,
            result_type=PruneResult,
            start_to_close_timeout=timedelta(minutes=30),
            retry_policy=BACKUP_RETRY,
        )
        return BackupRunResult(backup=backup, verification=verification, drill=drill, pruned=pruned)

    async def _alert(self, rule: BackupAlertRule, backup_id: str, problem: str) -> None:
        """Tell the operators, then fail the run: nothing is pruned after a bad backup."""
        summary = f"backup {backup_id}: {problem}"[:2000]
        await workflow.execute_activity(
            names.ACTIVITY_ALERT_BACKUP,
            BackupAlertInput(rule=rule, subject=backup_id, summary=summary),
            start_to_close_timeout=timedelta(minutes=1),
            retry_policy=BACKUP_RETRY,
        )
        raise ApplicationError(summary, type=rule, non_retryable=True)

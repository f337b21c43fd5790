"""The Temporal Schedule that runs BackupWorkflow daily (``MB_BACKUP_CRON``, UTC).

Created or updated when the workers start, only where backups are configured; a
backup still running when the next is due is skipped, not stacked.
"""

from __future__ import annotations

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
)

from schemas.backups import BackupRunInput
from schemas.settings import Settings
from temporal import names
from temporal.schedules import ensure_schedule


def backup_schedule(settings: Settings) -> Schedule:
    """The schedule as the settings describe it."""
    return Schedule(
        action=ScheduleActionStartWorkflow(
            names.BACKUP_WORKFLOW_TYPE,
            BackupRunInput(reason="scheduled", drill=True, keep=settings.backup_keep),
            id=f"{names.BACKUP_SCHEDULE_ID}-run",
            task_queue=names.PIPELINE_TASK_QUEUE,
        ),
        spec=ScheduleSpec(cron_expressions=[settings.backup_cron]),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
    )


async def ensure_backup_schedule(client: Client, settings: Settings) -> bool:
    """The daily backup schedule, when this deployment takes backups."""
    if settings.backup_path is None:
        return False
    return await ensure_schedule(client, names.BACKUP_SCHEDULE_ID, backup_schedule(settings))

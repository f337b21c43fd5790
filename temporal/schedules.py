"""Our Temporal Schedules, created or updated idempotently when the workers start.

Each starts one workflow on the pipeline queue; a run still going when the next
is due is skipped, not stacked:

- the anomaly scan, every ``MB_ANOMALY_SCAN_EVERY_S`` (with the current thresholds);
- the mail delivery, every ``MB_MAIL_DELIVERY_EVERY_S`` (with the current retry policy);
- the daily backup (``MB_BACKUP_CRON``, UTC), only where backups are configured.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from pydantic import BaseModel
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleUpdate,
    ScheduleUpdateInput,
)
from temporalio.service import RPCError, RPCStatusCode

from schemas.anomalies import AnomalyScanInput
from schemas.backups import BackupRunInput
from schemas.mail import MailDeliveryInput
from schemas.settings import Settings
from temporal import names

log = logging.getLogger(__name__)


def _skipping(
    workflow_type: str, input: BaseModel, schedule_id: str, spec: ScheduleSpec
) -> Schedule:
    """Start ``workflow_type`` on the pipeline queue as ``spec`` says; skip a run still going."""
    return Schedule(
        action=ScheduleActionStartWorkflow(
            workflow_type, input, id=f"{schedule_id}-run", task_queue=names.PIPELINE_TASK_QUEUE
        ),
        spec=spec,
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
    )


def _every(seconds: float) -> ScheduleSpec:
    return ScheduleSpec(intervals=[ScheduleIntervalSpec(every=timedelta(seconds=seconds))])


def anomaly_schedule(settings: Settings) -> Schedule:
    """The anomaly scan's schedule as the settings describe it."""
    return _skipping(
        names.ANOMALY_SCAN_WORKFLOW_TYPE,
        AnomalyScanInput(thresholds=settings.anomaly_thresholds),
        names.ANOMALY_SCAN_SCHEDULE_ID,
        _every(settings.anomaly_scan_every_s),
    )


def mail_schedule(settings: Settings) -> Schedule:
    """The mail delivery's schedule as the settings describe it."""
    return _skipping(
        names.MAIL_DELIVERY_WORKFLOW_TYPE,
        MailDeliveryInput(policy=settings.mail_retry_policy),
        names.MAIL_DELIVERY_SCHEDULE_ID,
        _every(settings.mail_delivery_every_s),
    )


def backup_schedule(settings: Settings) -> Schedule:
    """The daily backup's schedule as the settings describe it."""
    return _skipping(
        names.BACKUP_WORKFLOW_TYPE,
        BackupRunInput(reason="scheduled", drill=True, keep=settings.backup_keep),
        names.BACKUP_SCHEDULE_ID,
        ScheduleSpec(cron_expressions=[settings.backup_cron]),
    )


async def ensure_schedule(client: Client, schedule_id: str, schedule: Schedule) -> bool:
    """Create the schedule, or bring an existing one up to date; False where the server
    has no schedules (the time-skipping test server)."""
    try:
        await client.create_schedule(schedule_id, schedule)
    except ScheduleAlreadyRunningError:

        def update(_: ScheduleUpdateInput) -> ScheduleUpdate:
            return ScheduleUpdate(schedule=schedule)

        await client.get_schedule_handle(schedule_id).update(update)
    except RPCError as err:
        if err.status != RPCStatusCode.UNIMPLEMENTED:
            raise
        log.warning("this Temporal server has no schedules: %s will not run", schedule_id)
        return False
    return True


async def ensure_anomaly_schedule(client: Client, settings: Settings) -> bool:
    """The anomaly scan's schedule, created or updated."""
    return await ensure_schedule(client, names.ANOMALY_SCAN_SCHEDULE_ID, anomaly_schedule(settings))


async def ensure_mail_schedule(client: Client, settings: Settings) -> bool:
    """The mail delivery's schedule, created or updated."""
    return await ensure_schedule(client, names.MAIL_DELIVERY_SCHEDULE_ID, mail_schedule(settings))


async def ensure_backup_schedule(client: Client, settings: Settings) -> bool:
    """The daily backup's schedule, where this deployment takes backups."""
    if settings.backup_path is None:
        return False
    return await ensure_schedule(client, names.BACKUP_SCHEDULE_ID, backup_schedule(settings))

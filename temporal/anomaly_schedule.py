"""The Temporal Schedule that runs AnomalyScanWorkflow every ``MB_ANOMALY_SCAN_EVERY_S``.

Created (or updated to the current thresholds) when the workers start; a run
still going when the next is due is skipped, not stacked.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
)

from schemas.anomalies import AnomalyScanInput
from schemas.settings import Settings
from temporal import names
from temporal.schedules import ensure_schedule


def anomaly_schedule(settings: Settings) -> Schedule:
    """The schedule as the settings describe it."""
    return Schedule(
        action=ScheduleActionStartWorkflow(
            names.ANOMALY_SCAN_WORKFLOW_TYPE,
            AnomalyScanInput(thresholds=settings.anomaly_thresholds),
            id=f"{names.ANOMALY_SCAN_SCHEDULE_ID}-run",
            task_queue=names.PIPELINE_TASK_QUEUE,
        ),
        spec=ScheduleSpec(
            intervals=[ScheduleIntervalSpec(every=timedelta(seconds=settings.anomaly_scan_every_s))]
        ),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
    )


async def ensure_anomaly_schedule(client: Client, settings: Settings) -> bool:
    """Create the schedule, or bring an existing one up to date; False where the server
    has no schedules (the time-skipping test server)."""
    return await ensure_schedule(client, names.ANOMALY_SCAN_SCHEDULE_ID, anomaly_schedule(settings))

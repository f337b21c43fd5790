"""The Temporal Schedule that runs MailDeliveryWorkflow every ``MB_MAIL_DELIVERY_EVERY_S``.

Created (or updated to the current retry policy) when the workers start; a run
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

from schemas.mail import MailDeliveryInput
from schemas.settings import Settings
from temporal import names
from temporal.schedules import ensure_schedule


def mail_schedule(settings: Settings) -> Schedule:
    """The schedule as the settings describe it."""
    return Schedule(
        action=ScheduleActionStartWorkflow(
            names.MAIL_DELIVERY_WORKFLOW_TYPE,
            MailDeliveryInput(policy=settings.mail_retry_policy),
            id=f"{names.MAIL_DELIVERY_SCHEDULE_ID}-run",
            task_queue=names.PIPELINE_TASK_QUEUE,
        ),
        spec=ScheduleSpec(
            intervals=[
                ScheduleIntervalSpec(every=timedelta(seconds=settings.mail_delivery_every_s))
            ]
        ),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
    )


async def ensure_mail_schedule(client: Client, settings: Settings) -> bool:
    """Create the schedule, or bring an existing one up to date; False where the server
    has no schedules (the time-skipping test server)."""
    return await ensure_schedule(client, names.MAIL_DELIVERY_SCHEDULE_ID, mail_schedule(settings))

"""MailDeliveryWorkflow: one pass of the outbox's retries, started by a Temporal Schedule.

The story is short: deliver what is due. The activity claims each row before
sending it and raises the alerts for mail given up, so a retried or overlapping
run sends nothing twice; the schedule skips a run while the previous one is going.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from schemas.mail import MailDeliveryInput, MailDeliveryResult
    from temporal import names

DELIVERY_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=5),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=1),
    maximum_attempts=3,
)


@workflow.defn(name=names.MAIL_DELIVERY_WORKFLOW_TYPE)
class MailDeliveryWorkflow:
    """Deliver the due mail once."""

    @workflow.run
    async def run(self, input: MailDeliveryInput) -> MailDeliveryResult:
        """Deliver, and report what was sent, failed and given up."""
        result: MailDeliveryResult = await workflow.execute_activity(
            names.ACTIVITY_DELIVER_MAIL,
            input,
            result_type=MailDeliveryResult,
            start_to_close_timeout=timedelta(minutes=30),
            heartbeat_timeout=timedelta(minutes=1),
            retry_policy=DELIVERY_RETRY,
        )
        return result

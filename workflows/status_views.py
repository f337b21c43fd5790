"""Publishing a workflow's status to the read model the API reads.

A snapshot goes out as a local activity (a marker in history, not three events; its
input, the snapshot, is never written to history) and the workflow waits for it, so
what the API shows is never older than the last stage the workflow reached. Each
snapshot carries a sequence number: the workflow's time in microseconds (times 1000,
room for snapshots within one workflow task), and always above the one before, so it
grows across continue-as-new and a new run of the same app too. A retried or late
write with a lower number changes nothing in the store.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, CancelledError

with workflow.unsafe.imports_passed_through():
    from schemas.deployment import AppStatus, DeploymentStatus
    from schemas.status_views import RecordAppStatusInput, RecordDeploymentStatusInput
    from temporal import names

STATUS_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=30),
    maximum_attempts=0,
)
"""Until PostgreSQL answers: the workflow's next steps need it too, and a status
that silently stopped following its workflow would mislead whoever reads it."""


def enabled() -> bool:
    """Whether this run publishes its status (runs started before the patch do not)."""
    return workflow.patched(names.PATCH_STATUS_READ_MODEL)


def next_seq(previous: int) -> int:
    """The sequence number of the next snapshot: above ``previous`` and the workflow's
    time (so above anything an earlier run of the same workflow id stored)."""
    return max(previous + 1, int(workflow.now().timestamp() * 1_000_000) * 1000)


async def publish_app(status: AppStatus, seq: int) -> None:
    """Store the AppWorkflow's status as of ``seq``."""
    await _record(
        names.ACTIVITY_RECORD_APP_STATUS,
        RecordAppStatusInput(seq=seq, status=status.model_copy(deep=True)),
    )


async def publish_deployment(status: DeploymentStatus, seq: int) -> None:
    """Store a DeploymentWorkflow's status as of ``seq``."""
    await _record(
        names.ACTIVITY_RECORD_DEPLOYMENT_STATUS,
        RecordDeploymentStatusInput(seq=seq, status=status.model_copy(deep=True)),
    )


async def _record(activity: str, input: RecordAppStatusInput | RecordDeploymentStatusInput) -> None:
    try:
        await workflow.execute_local_activity(
            activity,
            input,
            result_type=bool,
            start_to_close_timeout=timedelta(seconds=10),
            retry_policy=STATUS_RETRY,
        )
    except ActivityError as err:
        if isinstance(err.cause, CancelledError):
            raise
        # Only a non-retryable failure gets here (a snapshot the store refuses): the
        # pipeline goes on, and the next snapshot replaces the one missing.
        workflow.logger.warning("status not published: %s", err.cause or err)

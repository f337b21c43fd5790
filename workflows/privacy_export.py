"""PrivacyExportWorkflow: assemble everything held about a user into one archive.

The story: build the archive (stored by hash; only the hash comes back here),
then tell the user an export was made. Retrying either step is safe.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from schemas.privacy import ExportInput, ExportResult
    from temporal import names

PRIVACY_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=30),
    maximum_attempts=10,
)


@workflow.defn(name=names.PRIVACY_EXPORT_WORKFLOW_TYPE)
class PrivacyExportWorkflow:
    """Build one user's data export."""

    @workflow.run
    async def run(self, input: ExportInput) -> ExportResult:
        """Archive, then notify."""
        result: ExportResult = await workflow.execute_activity(
            names.ACTIVITY_BUILD_EXPORT,
            input,
            result_type=ExportResult,
            start_to_close_timeout=timedelta(minutes=5),
            retry_policy=PRIVACY_RETRY,
        )
        await workflow.execute_activity(
            names.ACTIVITY_NOTIFY_EXPORT,
            input,
            result_type=bool,
            start_to_close_timeout=timedelta(minutes=1),
            retry_policy=PRIVACY_RETRY,
        )
        return result

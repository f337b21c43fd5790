"""AnomalyScanWorkflow: one pass of the anomaly rules, started by a Temporal Schedule.

The story is short: scan. The activity does the I/O (rules, alerts, suspensions,
mail) and is idempotent, so a retried or overlapping run raises nothing twice.
The schedule skips a run while the previous one is still going.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from schemas.anomalies import AnomalyScanInput, AnomalyScanResult
    from temporal import names

SCAN_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=30),
    maximum_attempts=5,
)


@workflow.defn(name=names.ANOMALY_SCAN_WORKFLOW_TYPE)
class AnomalyScanWorkflow:
    """Evaluate the anomaly rules once."""

    @workflow.run
    async def run(self, input: AnomalyScanInput) -> AnomalyScanResult:
        """Scan, and report what was found."""
        result: AnomalyScanResult = await workflow.execute_activity(
            names.ACTIVITY_SCAN_ANOMALIES,
            input,
            result_type=AnomalyScanResult,
            start_to_close_timeout=timedelta(minutes=2),
            retry_policy=SCAN_RETRY,
        )
        return result

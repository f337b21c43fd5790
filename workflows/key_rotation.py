"""MasterKeyRotationWorkflow: rewrap every data key under the current master key, online.

The story: rewrap the data keys still wrapped by older master keys, one batch
at a time (each batch an idempotent activity, so a crash resumes where it
stopped), until none is left; then retire the master keys nothing uses any
more. Secrets themselves are untouched: their data keys do not change, only
the key that wraps them. One fixed workflow id means a second rotation cannot
start while one runs.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from schemas.keys import (
        KeyRotationInput,
        KeyRotationResult,
        KeyRotationStatus,
        RetireKeysInput,
        RetireKeysResult,
        RewrapBatchInput,
        RewrapBatchResult,
    )
    from temporal import names

BATCHES_PER_RUN = 200
"""Continue as new after this many batches: the history stays small on any fleet."""

KEY_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=1),
    non_retryable_error_types=[names.ERROR_MASTER_KEY_UNKNOWN],
)


@workflow.defn(name=names.KEY_ROTATION_WORKFLOW_TYPE)
class MasterKeyRotationWorkflow:
    """Rewrap in batches, then retire what is unused."""

    @workflow.init
    def __init__(self, input: KeyRotationInput) -> None:
        self._status = KeyRotationStatus(
            target_key_id=input.target_key_id, rewrapped=input.rewrapped_so_far, remaining=None
        )

    @workflow.run
    async def run(self, input: KeyRotationInput) -> KeyRotationResult:
        """Batches until nothing is left under an older key; then retirement."""
        for _ in range(BATCHES_PER_RUN):
            batch: RewrapBatchResult = await workflow.execute_activity(
                names.ACTIVITY_REWRAP_DATA_KEYS,
                RewrapBatchInput(
                    target_key_id=input.target_key_id,
                    batch_size=input.batch_size,
                    requested_by=input.requested_by,
                ),
                result_type=RewrapBatchResult,
                start_to_close_timeout=timedelta(minutes=5),
                heartbeat_timeout=timedelta(seconds=60),
                retry_policy=KEY_RETRY,
            )
            self._status.rewrapped += batch.rewrapped
            self._status.remaining = batch.remaining
            if batch.remaining == 0:
                break
        else:
            workflow.continue_as_new(
                input.model_copy(update={"rewrapped_so_far": self._status.rewrapped})
            )
        retired: RetireKeysResult = await workflow.execute_activity(
            names.ACTIVITY_RETIRE_MASTER_KEYS,
            RetireKeysInput(keep=input.target_key_id, requested_by=input.requested_by),
            result_type=RetireKeysResult,
            start_to_close_timeout=timedelta(minutes=1),
            retry_policy=KEY_RETRY,
        )
        self._status.retired = retired.retired
        self._status.done = True
        return KeyRotationResult(
            target_key_id=input.target_key_id,
            rewrapped=self._status.rewrapped,
            retired=retired.retired,
        )

    @workflow.query(name=names.QUERY_STATUS)
    def status(self) -> KeyRotationStatus:
        """Progress: data keys rewrapped so far, how many remain, what was retired."""
        return self._status

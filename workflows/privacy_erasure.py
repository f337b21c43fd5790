"""PrivacyErasureWorkflow: erase a user (GDPR art. 17, CCPA right to delete).

The story: shut the account (sessions, tokens and login stop working at once),
tell the user while their address still exists, take each of their apps
offline, crypto-shred their erasure key (from then on no copy of their secrets,
in the database, a backup or archived WAL, can be decrypted), delete their rows
and pseudonymise what is kept, delete their workflow histories, and record that
it is done. Only ids and counts pass through here: nothing personal.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from schemas.privacy import (
        ErasureInput,
        ErasurePlan,
        ErasureProgress,
        ErasureResult,
        ErasureStatus,
        FinishErasureInput,
        RetireAppInput,
    )
    from temporal import names

T = TypeVar("T")

ERASURE_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=1),
    non_retryable_error_types=["UnknownUser", "BadUserId"],
)
# The notice is worth a few tries, not holding up an erasure the law requires.
NOTICE_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2),
    backoff_coefficient=2.0,
    maximum_attempts=5,
)


@workflow.defn(name=names.PRIVACY_ERASURE_WORKFLOW_TYPE)
class PrivacyErasureWorkflow:
    """Erase one user, step by step; ``progress`` says how far it got."""

    def __init__(self) -> None:
        self._progress = ErasureProgress(step="starting")

    @workflow.query(name="progress")
    def progress(self) -> ErasureProgress:
        """The current step, and how many apps are offline so far."""
        return self._progress

    @workflow.run
    async def run(self, input: ErasureInput) -> ErasureResult:
        """Shut, notify, retire, shred, erase, forget, record."""
        plan: ErasurePlan = await self._step(
            "shutting the account", names.ACTIVITY_BEGIN_ERASURE, input, ErasurePlan
        )
        notified = plan.notify and await self._notify(input)

        self._progress.apps_total = len(plan.app_ids)
        for app_id in plan.app_ids:
            await self._step(
                f"taking {app_id} offline",
                names.ACTIVITY_RETIRE_USER_APP,
                RetireAppInput(
                    user_id=input.user_id, app_id=app_id, requested_by=input.requested_by
                ),
                bool,
                within=timedelta(minutes=10),
            )
            self._progress.apps_retired += 1

        shredded: bool = await self._step(
            "shredding the erasure key", names.ACTIVITY_SHRED_USER_KEY, input, bool
        )
        erased: dict[str, int] = await self._step(
            "deleting data", names.ACTIVITY_ERASE_USER_DATA, input, dict[str, int]
        )
        histories: int = await self._step(
            "deleting workflow histories",
            names.ACTIVITY_DELETE_USER_HISTORIES,
            input,
            int,
            within=timedelta(minutes=10),
        )
        await self._step(
            "recording",
            names.ACTIVITY_FINISH_ERASURE,
            FinishErasureInput(user_id=input.user_id, histories_deleted=histories),
            ErasureStatus,
        )
        self._progress.step = "done"
        return ErasureResult(
            user_id=input.user_id,
            erased=erased,
            key_shredded=shredded,
            histories_deleted=histories,
            notified=notified,
        )

    async def _step(
        self,
        step: str,
        activity: str,
        arg: object,
        result_type: type[T],
        *,
        within: timedelta = timedelta(minutes=2),
    ) -> T:
        self._progress.step = step
        result: T = await workflow.execute_activity(
            activity,
            arg,
            result_type=result_type,
            start_to_close_timeout=within,
            heartbeat_timeout=timedelta(seconds=30),
            retry_policy=ERASURE_RETRY,
        )
        return result

    async def _notify(self, input: ErasureInput) -> bool:
        self._progress.step = "telling the user"
        try:
            sent: bool = await workflow.execute_activity(
                names.ACTIVITY_NOTIFY_ERASURE,
                input,
                result_type=bool,
                start_to_close_timeout=timedelta(minutes=1),
                retry_policy=NOTICE_RETRY,
            )
        except ActivityError:
            workflow.logger.warning("the erasure notice could not be delivered")
            return False
        return sent

"""Privacy erasure activities: shut the account, tell the user, take their apps
offline, crypto-shred, delete, and delete their workflow histories.

Each is idempotent: a retry finds the step done and does nothing more. Nothing
personal comes back to the workflow (counts and app ids only).
"""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta

from temporalio import activity
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.workflowservice.v1 import DeleteWorkflowExecutionRequest
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from activities.heartbeat import keep_alive
from pipeline.operations import request_retire
from schemas.deployment import RetireRequest
from schemas.privacy import (
    ErasureInput,
    ErasurePlan,
    ErasureStatus,
    FinishErasureInput,
    RetireAppInput,
)
from store.mail_delivery import Mailer
from store.outbox import MailOutbox
from store.owner_keys import OwnerKeys
from store.privacy_erasure import PrivacyErasures, UnknownUser
from store.users import UserRepository
from temporal import names

NOTICE_SUBJECT = "Your MicroBuilder account is being erased"
NOTICE_BODY = (
    "As requested ({by}), your MicroBuilder account and everything we hold about you"
    " are being erased: your apps are taken offline, your secrets become unreadable"
    " everywhere (backups included) and your data is deleted. Security and moderation"
    " logs are kept for their retention period without anything that names you.\n\n"
    "This is the last mail we send to this address."
)
# Workflow ids are user-chosen only in part: refuse anything a visibility query could misread.
_SAFE_ID = re.compile(r"^[A-Za-z0-9_.:@-]{1,200}$")
_POLL = timedelta(seconds=1)


class PrivacyErasureActivities:
    """The erasure steps, over the database, the key directory and Temporal."""

    def __init__(
        self,
        erasures: PrivacyErasures,
        users: UserRepository,
        outbox: MailOutbox,
        mailer: Mailer,
        owner_keys: OwnerKeys,
        temporal: Client,
    ) -> None:
        self._erasures = erasures
        self._users = users
        self._outbox = outbox
        self._mailer = mailer
        self._owner_keys = owner_keys
        self._temporal = temporal

    @activity.defn(name=names.ACTIVITY_BEGIN_ERASURE)
    async def begin_erasure(self, input: ErasureInput) -> ErasurePlan:
        """Record the request; revoke every session and token; detach the login."""
        try:
            start = await self._erasures.begin(input.user_id, input.requested_by)
        except UnknownUser as err:
            raise ApplicationError(str(err), type="UnknownUser", non_retryable=True) from None
        return ErasurePlan(app_ids=start.app_ids, notify=start.verified and bool(start.email))

    @activity.defn(name=names.ACTIVITY_NOTIFY_ERASURE)
    async def notify_erasure(self, input: ErasureInput) -> bool:
        """Mail the user once (a retry re-delivers the same queued mail, never a second)."""
        mail_id = await self._erasures.notice_mail_id(input.user_id)
        if mail_id is None:
            user = await self._users.get(input.user_id)
            if user is None or not user.verified or user.email is None:
                return False
            by = "by you" if input.requested_by == input.user_id else "by an operator"
            mail_id = await self._outbox.enqueue(
                user.email, NOTICE_SUBJECT, NOTICE_BODY.format(by=by)
            )
            await self._erasures.record_notice(input.user_id, mail_id)
        if not await self._mailer.deliver_one(mail_id):
            raise ApplicationError("the erasure notice is not delivered yet", type="MailNotSent")
        return True

    @activity.defn(name=names.ACTIVITY_RETIRE_USER_APP)
    async def retire_user_app(self, input: RetireAppInput) -> bool:
        """Signal the app's workflow to go offline for good and wait until it has;
        False if it was not running."""
        request = RetireRequest(
            request_id=f"erase-{input.app_id}",
            requested_by=input.requested_by,
            reason="the owner's account is being erased",
        )
        if not await request_retire(self._temporal, input.app_id, request):
            return False
        handle = self._temporal.get_workflow_handle(names.app_workflow_id(input.app_id))
        async with keep_alive(f"retiring {input.app_id}"):
            # polls another service's state: there is no event to wait on
            while (await handle.describe()).status == WorkflowExecutionStatus.RUNNING:  # noqa: ASYNC110
                await asyncio.sleep(_POLL.total_seconds())
        return True

    @activity.defn(name=names.ACTIVITY_SHRED_USER_KEY)
    async def shred_user_key(self, input: ErasureInput) -> bool:
        """Delete the user's erasure key: every copy of their ciphertext is dead."""
        self._owner_keys.shred(input.user_id)
        await self._erasures.key_shredded(input.user_id)
        return not self._owner_keys.exists(input.user_id)

    @activity.defn(name=names.ACTIVITY_ERASE_USER_DATA)
    async def erase_user_data(self, input: ErasureInput) -> dict[str, int]:
        """Delete the user's rows, pseudonymise what is kept; counts per kind."""
        try:
            return await self._erasures.erase(input.user_id)
        except UnknownUser as err:
            raise ApplicationError(str(err), type="UnknownUser", non_retryable=True) from None

    @activity.defn(name=names.ACTIVITY_DELETE_USER_HISTORIES)
    async def delete_user_histories(self, input: ErasureInput) -> int:
        """Delete every workflow execution of the user's (apps, deployments, exports)
        from Temporal, running ones included; returns how many were deleted."""
        if not _SAFE_ID.match(input.user_id):
            raise ApplicationError("unexpected user id", type="BadUserId", non_retryable=True)
        query = (
            f"{names.SA_OWNER_ID.name} = '{input.user_id}'"
            f" OR WorkflowId = '{names.privacy_export_workflow_id(input.user_id)}'"
        )
        deleted: set[tuple[str, str]] = set()
        async with keep_alive("deleting histories"):
            while True:  # visibility lags deletion: list until only deleted runs remain
                pending = [
                    (execution.id, execution.run_id)
                    async for execution in self._temporal.list_workflows(query)
                    if (execution.id, execution.run_id) not in deleted
                ]
                if not pending:
                    break
                for workflow_id, run_id in pending:
                    await self._delete_execution(workflow_id, run_id)
                    deleted.add((workflow_id, run_id))
                await asyncio.sleep(_POLL.total_seconds())
            while await self._count(query):  # noqa: ASYNC110 - visibility catching up
                await asyncio.sleep(_POLL.total_seconds())
        return len(deleted)

    async def _count(self, query: str) -> int:
        return (await self._temporal.count_workflows(query)).count

    async def _delete_execution(self, workflow_id: str, run_id: str) -> None:
        try:
            await self._temporal.workflow_service.delete_workflow_execution(
                DeleteWorkflowExecutionRequest(
                    namespace=self._temporal.namespace,
                    workflow_execution=WorkflowExecution(workflow_id=workflow_id, run_id=run_id),
                )
            )
        except RPCError as err:
            if err.status != RPCStatusCode.NOT_FOUND:
                raise

    @activity.defn(name=names.ACTIVITY_FINISH_ERASURE)
    async def finish_erasure(self, input: FinishErasureInput) -> ErasureStatus:
        """Record the erasure as done (audited once)."""
        return await self._erasures.finish(input.user_id, input.histories_deleted)

"""``mb keys``: rotate the master key online, and show which keys wrap how many data keys."""

from __future__ import annotations

from typing import Any

from temporalio.client import WorkflowExecutionStatus, WorkflowHandle
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from cli.commands import CommandError, database, temporal
from schemas.audit import Actor, AuditAction, AuditEvent, AuditOutcome
from schemas.keys import KeyRotationInput, KeyRotationResult, KeyRotationStatus
from schemas.settings import Settings
from store.audit import AuditLog
from store.data_keys import DataKeyRewrapper, MasterKeyUse
from store.key_rings import master_envelope, master_key_dir, master_key_ring
from temporal import names


async def _running(handle: WorkflowHandle[object, object]) -> bool:
    try:
        description = await handle.describe()
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            return False
        raise
    return description.status == WorkflowExecutionStatus.RUNNING


async def rotate(
    settings: Settings, user: str, *, batch_size: int
) -> tuple[str, WorkflowHandle[Any, KeyRotationResult]]:
    """Make a new master key current (embedded ring) and start the rewrap workflow."""
    client = await temporal(settings)
    handle = client.get_workflow_handle(names.KEY_ROTATION_WORKFLOW_ID)
    if await _running(handle):
        raise CommandError(
            "a master key rotation is already running; follow it with `mb keys status`"
        )
    if settings.master_key is None:
        target = master_key_dir(settings).add()
    else:
        target = master_key_ring(settings).current_id  # the operator set a new MB_MASTER_KEY
    async with database(settings) as db:
        await AuditLog(db).record(
            AuditEvent(
                actor=Actor(user_id=user),
                action=AuditAction.KEY_ROTATE,
                resource=f"master-key:{target}",
                outcome=AuditOutcome.OK,
                detail={"requested": True},
            )
        )
    try:
        started = await client.start_workflow(
            names.KEY_ROTATION_WORKFLOW_TYPE,
            KeyRotationInput(target_key_id=target, requested_by=user, batch_size=batch_size),
            id=names.KEY_ROTATION_WORKFLOW_ID,
            task_queue=names.PIPELINE_TASK_QUEUE,
            id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
            result_type=KeyRotationResult,
        )
    except WorkflowAlreadyStartedError:
        raise CommandError("a master key rotation is already running") from None
    return target, started


async def result(handle: WorkflowHandle[Any, KeyRotationResult]) -> KeyRotationResult:
    """Wait for the rotation to finish."""
    return await handle.result()


async def status(settings: Settings) -> tuple[list[MasterKeyUse], KeyRotationStatus | None]:
    """Master keys with their data key counts, and the last rotation's progress."""
    async with database(settings) as db:
        envelope = master_envelope(settings)
        usage = await DataKeyRewrapper(db, envelope, AuditLog(db)).usage()
    client = await temporal(settings)
    try:
        progress: KeyRotationStatus = await client.get_workflow_handle(
            names.KEY_ROTATION_WORKFLOW_ID
        ).query(names.QUERY_STATUS, result_type=KeyRotationStatus)
    except RPCError as err:
        if err.status != RPCStatusCode.NOT_FOUND:
            raise
        return usage, None
    return usage, progress

"""``mb keys``: rotate the master key online, add a Temporal payload key, and show which
keys wrap how many data keys. The group also holds the key ring's escrow, ``mb keys
export|import``, from ``escrow_cli``."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.table import Table
from temporalio.client import WorkflowExecutionStatus, WorkflowHandle
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from cli.endpoints import database, temporal
from cli.escrow_cli import escrow_commands
from cli.runner import AsUser, CommandError, JsonFlag, console, fail, load_settings, run
from schemas.audit import Actor, AuditAction, AuditEvent, AuditOutcome
from schemas.keys import KeyRotationInput, KeyRotationResult, KeyRotationStatus
from schemas.settings import Settings
from store.aes_keys import KeyMaterialError
from store.audit import AuditLog
from store.data_keys import DataKeyRewrapper, MasterKeyUse
from store.key_rings import codec_key_dir, master_envelope, master_key_dir, master_key_ring
from temporal import names

keys_app = typer.Typer(help="Master keys of the secrets store.")


@keys_app.command("rotate")
def keys_rotate(
    user: AsUser = "local",
    batch_size: Annotated[int, typer.Option(min=1, max=10_000)] = 200,
    wait: Annotated[bool, typer.Option(help="wait until every data key is rewrapped")] = True,
) -> None:
    """A new master key: every data key rewrapped online (resumable), unused keys retired."""

    async def main() -> int:
        target, handle = await rotate(load_settings(), user, batch_size=batch_size)
        console.print(f"rotating to master key {target} (workflow {handle.id})")
        if wait:
            done = await result(handle)
            retired = ", ".join(done.retired) or "none"
            console.print(
                f"[green]done[/]: {done.rewrapped} data key(s) rewrapped; retired: {retired}"
            )
        return 0

    run(main())


@keys_app.command("rotate-codec")
def keys_rotate_codec() -> None:
    """A new Temporal payload key (embedded ring): new payloads use it after the processes
    restart; older keys stay so every existing history still decodes."""
    settings = load_settings()
    if settings.codec_key is not None:
        fail(
            "payload keys come from MB_CODEC_KEY: set the new key there, move the old one to "
            "MB_CODEC_KEY_PREVIOUS, and restart the processes"
        )
    try:
        directory = codec_key_dir(settings)
        directory.load()  # the first key, if there was none yet
        new = directory.add()
    except KeyMaterialError as err:
        fail(str(err))
    kept = sorted(k for k in directory.load().keys if k != new)
    console.print(f"payload key {new} is current; kept for old histories: {', '.join(kept)}")
    console.print("restart `mb up` (or the workers, API and codec server) to start using it")


@keys_app.command("status")
def keys_status(as_json: JsonFlag = False) -> None:
    """Which master keys wrap how many data keys; the last rotation's progress."""

    async def main() -> int:
        usage, progress = await status(load_settings())
        if as_json:
            print(
                json.dumps(
                    {
                        "keys": [u.__dict__ for u in usage],
                        "rotation": progress.model_dump() if progress else None,
                    },
                    indent=2,
                )
            )
            return 0
        table = Table("master key", "data keys", "retired")
        for u in usage:
            table.add_row(u.key_id, str(u.data_keys), "yes" if u.retired else "")
        console.print(table)
        if progress is not None:
            state = "done" if progress.done else f"{progress.remaining} remaining"
            target = progress.target_key_id
            console.print(f"last rotation to {target}: {progress.rewrapped} rewrapped, {state}")
        return 0

    run(main())


keys_app.add_typer(escrow_commands)  # mb keys export, mb keys import


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

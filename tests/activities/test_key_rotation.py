"""Master key rotation on the Temporal test server with the real store: every data key
rewrapped in batches, every secret still readable, the old key retired (and its file
deleted), a second rotation refused while one runs, an unknown key a clear failure."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from temporalio.client import Client, WorkflowFailureError
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.key_rotation import KeyRotationActivities
from schemas.audit import Actor
from schemas.keys import KeyRotationInput, KeyRotationResult
from store.aes_keys import AesKeyRing, KeyDirectory
from store.audit import AuditLog
from store.data_keys import DataKeyRewrapper
from store.db import Database
from store.envelope import LEGACY_WRAPPED_BYTES, DataKeyErased, Envelope
from store.owner_keys import OwnerKeys
from store.secrets import SecretStore
from temporal import names
from workflows.key_rotation import MasterKeyRotationWorkflow

OWNERS = [f"owner{i}" for i in range(5)]


@pytest.fixture
def key_dir(tmp_path: Path) -> KeyDirectory:
    return KeyDirectory(tmp_path / "keys" / "master", "master")


@pytest.fixture
async def secrets(db: Database, key_dir: KeyDirectory) -> SecretStore:
    store = SecretStore(db, Envelope(key_dir.load), AuditLog(db))
    for owner in OWNERS:
        async with db.connection() as conn:
            await conn.execute(
                "INSERT INTO apps (app_id, owner_id) VALUES (%s, %s)", (f"app-{owner}", owner)
            )
        await store.set(Actor(user_id=owner), f"app-{owner}", "TOKEN", f"value-of-{owner}")
    return store


@pytest.fixture
async def worker(
    env: WorkflowEnvironment, db: Database, key_dir: KeyDirectory
) -> AsyncIterator[str]:
    queue = f"keys-{uuid.uuid4().hex[:8]}"
    rewrapper = DataKeyRewrapper(db, Envelope(key_dir.load), AuditLog(db))
    activities = KeyRotationActivities(rewrapper, key_dir)
    async with Worker(
        env.client,
        task_queue=queue,
        workflows=[MasterKeyRotationWorkflow],
        activities=[activities.rewrap_data_keys, activities.retire_master_keys],
    ):
        yield queue


async def _rotate(
    client: Client, queue: str, target: str, batch_size: int = 2
) -> KeyRotationResult:
    result: KeyRotationResult = await client.execute_workflow(
        names.KEY_ROTATION_WORKFLOW_TYPE,
        KeyRotationInput(target_key_id=target, requested_by="ops", batch_size=batch_size),
        id=names.KEY_ROTATION_WORKFLOW_ID,
        task_queue=queue,
        result_type=KeyRotationResult,
    )
    return result


async def test_rotation_rewraps_everything_and_retires_the_old_key(
    env: WorkflowEnvironment,
    db: Database,
    key_dir: KeyDirectory,
    secrets: SecretStore,
    worker: str,
) -> None:
    old = key_dir.load().current_id
    new = key_dir.add()
    result = await _rotate(env.client, worker, new, batch_size=2)
    assert result.rewrapped == len(OWNERS)
    assert result.retired == [old]
    assert set(key_dir.load().keys) == {new}  # the old key's file is gone

    usage = await DataKeyRewrapper(db, Envelope(key_dir.load), AuditLog(db)).usage()
    assert {(u.key_id, u.data_keys, u.retired) for u in usage} == {(old, 0, True), (new, 5, False)}
    # Every secret still decrypts, with only the new master key in the ring.
    fresh = SecretStore(db, Envelope(key_dir.load), AuditLog(db))
    for owner in OWNERS:
        assert await fresh.reveal(Actor(user_id=owner), f"app-{owner}", "TOKEN") == (
            1,
            f"value-of-{owner}",
        )
    audit = AuditLog(db)
    batches = await audit.search(action="key.rotate", newest_first=False)
    assert [r.detail["rewrapped"] for r in batches] == [2, 2, 1]
    assert [r.resource for r in await audit.search(action="key.retire")] == [f"master-key:{old}"]
    assert (await audit.verify()).ok

    # Rotating again to the same key finds nothing to do and retires nothing more.
    again = await _rotate(env.client, worker, new)
    assert (again.rewrapped, again.retired) == (0, [])


async def test_batches_are_idempotent_and_resume(
    db: Database, key_dir: KeyDirectory, secrets: SecretStore
) -> None:
    new = key_dir.add()
    rewrapper = DataKeyRewrapper(db, Envelope(key_dir.load), AuditLog(db))
    ops = Actor(user_id="ops")
    assert await rewrapper.rewrap_batch(new, 2, ops) == (2, 3)
    assert await rewrapper.rewrap_batch(new, 2, ops) == (2, 1)
    assert await rewrapper.rewrap_batch(new, 2, ops) == (1, 0)
    assert await rewrapper.rewrap_batch(new, 2, ops) == (0, 0)


async def test_a_second_rotation_cannot_start_while_one_runs(
    env: WorkflowEnvironment, key_dir: KeyDirectory
) -> None:
    target = key_dir.load().current_id
    args = KeyRotationInput(target_key_id=target, requested_by="ops")
    # No worker polls this queue: the first rotation stays running.
    queue = f"idle-{uuid.uuid4().hex[:8]}"
    first = await env.client.start_workflow(
        names.KEY_ROTATION_WORKFLOW_TYPE, args, id=names.KEY_ROTATION_WORKFLOW_ID, task_queue=queue
    )
    with pytest.raises(WorkflowAlreadyStartedError):
        await env.client.start_workflow(
            names.KEY_ROTATION_WORKFLOW_TYPE,
            args,
            id=names.KEY_ROTATION_WORKFLOW_ID,
            task_queue=queue,
            id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
        )
    await first.terminate("test over")


async def test_a_key_the_worker_does_not_hold_fails_the_rotation_clearly(
    env: WorkflowEnvironment, db: Database, key_dir: KeyDirectory, secrets: SecretStore
) -> None:
    foreign = AesKeyRing.of("master", bytes(32)).current_id  # never added to this ring
    queue = f"keys-{uuid.uuid4().hex[:8]}"
    rewrapper = DataKeyRewrapper(db, Envelope(key_dir.load), AuditLog(db))
    activities = KeyRotationActivities(rewrapper, key_dir)
    async with Worker(
        env.client,
        task_queue=queue,
        workflows=[MasterKeyRotationWorkflow],
        activities=[activities.rewrap_data_keys, activities.retire_master_keys],
    ):
        with pytest.raises(WorkflowFailureError) as caught:
            await _rotate(env.client, queue, foreign)
    activity_error = caught.value.cause
    assert activity_error is not None
    cause = activity_error.__cause__
    assert isinstance(cause, ApplicationError) and cause.type == names.ERROR_MASTER_KEY_UNKNOWN
    assert "MB_MASTER_KEY" in str(cause)
    # Nothing was changed: every data key is still wrapped by the original key.
    usage = await rewrapper.usage()
    assert sum(u.data_keys for u in usage if u.key_id != foreign) == len(OWNERS)


async def test_a_rewrap_moves_legacy_data_keys_under_the_owners_erasure_keys(
    db: Database, secrets: SecretStore, key_dir: KeyDirectory, tmp_path: Path
) -> None:
    """Data keys made before erasure keys existed are master-only (they would survive
    an erasure in old backups); rewrapping under the current key upgrades them."""
    owner_keys = OwnerKeys(tmp_path / "owners")
    envelope = Envelope(key_dir.load, owner_keys)
    rewrapper = DataKeyRewrapper(db, envelope, AuditLog(db))
    current = envelope.current_master_id
    assert await rewrapper.rewrap_batch(current, 100, Actor(user_id="operator")) == (5, 0)
    async with db.connection() as conn:
        lengths = {
            int(r["n"])
            for r in await (
                await conn.execute("SELECT length(wrapped) AS n FROM data_keys")
            ).fetchall()
        }
    assert lengths == {LEGACY_WRAPPED_BYTES + 1}
    assert await rewrapper.rewrap_batch(current, 100, Actor(user_id="operator")) == (0, 0)
    upgraded = SecretStore(db, envelope, AuditLog(db))
    value = await upgraded.reveal(Actor(user_id="owner0"), "app-owner0", "TOKEN")
    assert value[1] == "value-of-owner0"
    owner_keys.shred("owner0")
    with pytest.raises(DataKeyErased):
        await upgraded.reveal(Actor(user_id="owner0"), "app-owner0", "TOKEN")

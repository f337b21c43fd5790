"""The restore drill proves usability: the backup and its key escrow restored into a
scratch copy, where the canary secret must reveal (audited in the copy only), its
payload decode and its signature verify. A drill whose rows restore but whose
canary does not open fails the run and alerts the operators."""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pyrage
import pytest
from pydantic import SecretStr
from temporalio.client import WorkflowFailureError
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment
from temporalio.worker import Worker

from activities.backups import BackupActivities, KeyRecovery
from monitoring.operator_alerts import OperatorAlerts
from schemas.backups import BackupRunInput, BackupRunResult, DrillResult
from schemas.settings import Settings
from store.aes_keys import encode_key
from store.anomalies import AlertLog
from store.base_backups import ESCROW_FILE, BackupCatalog
from store.db import Database
from store.embedded import EmbeddedPostgres
from store.key_escrow import backup_escrow_lock, collect, drill_escrow_lock
from store.key_rings import master_key_ring, owner_keys
from store.mail_delivery import Mailer
from store.outbox import MailOutbox
from store.restore_canary import CANARY_OWNER
from temporal import names
from workers.wiring import backup_activities, live_key_rings
from workflows.backup import BackupWorkflow


@dataclass
class Platform:
    """An archiving server with the platform's schema, its catalog, and a data
    directory whose keys the stack would use."""

    db: Database
    catalog: BackupCatalog
    root: Path
    identity: pyrage.x25519.Identity

    def settings(self, **overrides: object) -> Settings:
        values: dict[str, object] = {
            "data_dir": self.root / "mb",
            "backup_dir": self.catalog.root,
            "database_url": SecretStr(self.db.conninfo),
        }
        values.update(overrides)
        return Settings(**values)  # type: ignore[arg-type]

    def escrowed(self) -> Settings:
        """Backups keep an escrow to our recipient; the drill holds the identity."""
        identity_file = self.root / "drill-identity.txt"
        if not identity_file.exists():
            identity_file.write_text(f"# drill identity\n{self.identity}\n")
            identity_file.chmod(0o600)
        return self.settings(
            escrow_recipients=str(self.identity.to_public()), escrow_identity_file=identity_file
        )


@pytest.fixture(scope="module")
async def platform() -> AsyncIterator[Platform]:
    root = Path(tempfile.mkdtemp(prefix="mb-test-drill-"))
    root.chmod(0o755)  # the server user traverses it
    catalog = BackupCatalog(root / "backups")
    catalog.prepare()
    server = EmbeddedPostgres(root / "data", archive_dir=catalog.wal_dir)
    uri = await server.start()
    db = Database(uri, max_size=4)
    await db.open()
    await db.migrate()
    yield Platform(db, catalog, root, pyrage.x25519.Identity.generate())
    await db.close()
    await server.stop()
    shutil.rmtree(root, ignore_errors=True)


def _alerts(platform: Platform) -> OperatorAlerts:
    mailer = Mailer.from_settings(platform.settings(), MailOutbox(platform.db))
    return OperatorAlerts(AlertLog(platform.db), mailer, ["oncall@example.com"])


async def _run(
    env: WorkflowEnvironment, activities: BackupActivities, keep: int = 3
) -> BackupRunResult:
    queue = f"drill-{uuid.uuid4().hex[:8]}"
    async with Worker(
        env.client,
        task_queue=queue,
        workflows=[BackupWorkflow],
        activities=[
            activities.take_base_backup,
            activities.verify_backup,
            activities.restore_drill,
            activities.prune_backups,
            activities.alert_backup,
        ],
    ):
        result: BackupRunResult = await env.client.execute_workflow(
            names.BACKUP_WORKFLOW_TYPE,
            BackupRunInput(reason="by hand", keep=keep),
            id=f"backup-{uuid.uuid4().hex[:8]}",
            task_queue=queue,
            result_type=BackupRunResult,
        )
    return result


async def _canary_reveals_in(db: Database) -> int:
    async with db.connection() as conn:
        row = await (
            await conn.execute(
                "SELECT count(*) AS n FROM audit_log WHERE actor = %s AND action = 'secret.reveal'",
                (CANARY_OWNER,),
            )
        ).fetchone()
    assert row is not None
    return int(row["n"])


async def test_the_drill_restores_the_escrowed_keys_and_opens_the_canary(
    platform: Platform, env: WorkflowEnvironment
) -> None:
    settings = platform.escrowed()
    result = await _run(env, backup_activities(settings, platform.db, _alerts(platform)))

    drill = result.drill
    assert drill is not None and drill.ok, drill
    assert drill.usable is not None
    assert drill.usable.model_dump() == {
        "keys_from": "escrow",
        "canary_secret": True,
        "canary_audited": True,
        "canary_payload": True,
        "canary_signature": True,
        "release_evidence": None,
        "problems": [],
    }
    # The escrow is kept with the backup, encrypted: never the raw keys.
    escrow = platform.catalog.base_dir / result.backup.id / ESCROW_FILE
    assert escrow.stat().st_mode & 0o777 == 0o600
    assert result.backup.escrow_sha256 is not None
    sealed = escrow.read_bytes()
    assert sealed.startswith(b"age-encryption.org/v1\n")
    for key in master_key_ring(settings).keys.values():
        assert key not in sealed and encode_key(key).encode() not in sealed
    # The drill's reveal was audited in the scratch copy, which is gone; never here.
    assert await _canary_reveals_in(platform.db) == 0
    assert not any(p for p in (platform.catalog.root / "drills").iterdir())


async def test_without_an_escrow_the_drill_opens_the_copy_with_the_live_keys(
    platform: Platform, env: WorkflowEnvironment
) -> None:
    result = await _run(env, backup_activities(platform.settings(), platform.db, _alerts(platform)))
    drill = result.drill
    assert drill is not None and drill.ok, drill
    assert drill.usable is not None and drill.usable.keys_from == "live"
    assert drill.usable.canary_secret and drill.usable.canary_payload
    assert result.backup.escrow_sha256 is None


async def test_a_drill_whose_rows_restore_but_whose_canary_does_not_open_fails_and_alerts(
    platform: Platform, env: WorkflowEnvironment
) -> None:
    """The escrow holds another deployment's keys (a lost or mixed-up key directory):
    every row restores, the canary does not open, the run fails and operators hear."""
    live = platform.escrowed()
    elsewhere = platform.settings(data_dir=platform.root / "another-stack")
    master_key_ring(elsewhere)  # keys of another deployment
    activities = BackupActivities(
        platform.catalog,
        platform.db.conninfo,
        _alerts(platform),
        KeyRecovery(
            db=platform.db,
            live_keys=lambda: live_key_rings(live),
            escrow_document=lambda: collect(elsewhere),
            erased=lambda: owner_keys(live).erased(),
            seal_lock=backup_escrow_lock(live),
            open_lock=drill_escrow_lock(live),
            namespace=live.temporal_namespace,
        ),
    )
    with pytest.raises(WorkflowFailureError) as failed:
        await _run(env, activities)
    assert "restore_drill_failed" in repr(failed.value.cause)
    [backup, *_] = platform.catalog.list()
    drill = platform.catalog.drill(backup.id)
    assert drill is not None and not drill.ok
    assert drill.rows["secrets"] >= 1  # the rows came back...
    assert drill.usable is not None and not drill.usable.canary_secret  # ...unusable
    assert drill.problem is not None and "canary secret does not open" in drill.problem
    [alert] = await AlertLog(platform.db).search(rule="restore_drill_failed")
    assert alert.subject == backup.id


async def test_an_altered_escrow_beside_the_backup_fails_the_drill(platform: Platform) -> None:
    settings = platform.escrowed()
    activities = backup_activities(settings, platform.db, _alerts(platform))
    env = ActivityEnvironment()
    backup = await env.run(activities.take_base_backup, BackupRunInput(reason="by hand"))
    escrow = platform.catalog.base_dir / backup.id / ESCROW_FILE
    data = bytearray(escrow.read_bytes())
    data[-5] ^= 0x01
    escrow.write_bytes(bytes(data))

    drill: DrillResult = await env.run(activities.restore_drill, backup.id)
    assert not drill.ok
    assert drill.usable is not None and drill.usable.keys_from == "escrow"
    assert drill.problem is not None and "escrow does not restore" in drill.problem

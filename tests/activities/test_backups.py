"""BackupWorkflow with the real activities on an archiving PostgreSQL holding the
platform's schema, the WAL-archive alert, and erasure against an old backup."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.backups import DRILL_TABLES, BackupActivities
from monitoring.operator_alerts import OperatorAlerts
from schemas.audit import Actor
from schemas.backups import BackupRunInput, BackupRunResult
from schemas.settings import Settings
from store.aes_keys import AesKeyRing
from store.anomalies import AlertLog, AnomalyRules
from store.apps import AppRepository
from store.audit import AuditLog
from store.base_backups import BackupCatalog
from store.db import Database
from store.embedded import EmbeddedPostgres
from store.envelope import DataKeyErased, Envelope, SecretRef
from store.mail_delivery import Mailer
from store.outbox import MailOutbox
from store.owner_keys import OwnerKeys
from store.pg_binaries import PgBinaries
from store.pitr_restore import restore_to
from store.privacy_erasure import PrivacyErasures
from store.secrets import SecretStore
from store.tokens import TokenRepository
from store.wal_archive import switch_wal_and_wait
from temporal import names
from workflows.backup import BackupWorkflow

RING = AesKeyRing.of("master", bytes(range(32)))


@dataclass
class Platform:
    """An archiving server with the platform's schema, its catalog and keys."""

    db: Database
    catalog: BackupCatalog
    root: Path
    owner_keys: OwnerKeys

    def secrets(self) -> SecretStore:
        return SecretStore(self.db, Envelope(lambda: RING, self.owner_keys), AuditLog(self.db))


@pytest.fixture(scope="module")
async def platform() -> AsyncIterator[Platform]:
    root = Path(tempfile.mkdtemp(prefix="mb-test-backup-"))
    root.chmod(0o755)  # the server user traverses it
    catalog = BackupCatalog(root / "backups")
    catalog.prepare()
    server = EmbeddedPostgres(root / "data", archive_dir=catalog.wal_dir)
    uri = await server.start()
    db = Database(uri, max_size=4)
    await db.open()
    await db.migrate()
    yield Platform(db, catalog, root, OwnerKeys(root / "owner-keys"))
    await db.close()
    await server.stop()
    shutil.rmtree(root, ignore_errors=True)


def _alerts(platform: Platform) -> OperatorAlerts:
    settings = Settings(data_dir=platform.root / "mb")
    mailer = Mailer.from_settings(settings, MailOutbox(platform.db))
    return OperatorAlerts(AlertLog(platform.db), mailer, ["oncall@example.com"])


async def test_the_backup_workflow_backs_up_verifies_and_proves_a_restore(
    platform: Platform, env: WorkflowEnvironment
) -> None:
    await TokenRepository(platform.db).ensure_user("dora", "Dora")
    activities = BackupActivities(platform.catalog, platform.db.conninfo, _alerts(platform))
    queue = f"backup-{uuid.uuid4().hex[:8]}"
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
            BackupRunInput(reason="by hand", keep=1),
            id=f"backup-{uuid.uuid4().hex[:8]}",
            task_queue=queue,
            result_type=BackupRunResult,
        )
    assert result.verification.ok, result.verification.problems
    drill = result.drill
    assert drill is not None and drill.ok, drill
    assert set(drill.rows) == set(DRILL_TABLES)
    assert drill.rows["users"] >= 1 and drill.rows["schema_migrations"] >= 10
    assert platform.catalog.drill(result.backup.id) == drill  # kept for `mb backup list`
    assert [b.id for b in platform.catalog.list()] == [result.backup.id]
    assert not any((platform.catalog.root / "drills").iterdir())  # the scratch copy is gone


async def test_the_configured_postgresql_tools_are_the_ones_that_run(
    platform: Platform, tmp_path: Path
) -> None:
    """``MB_PG_BINDIR`` (an external server's tools): here wrappers that log each call
    before running the real tool; the catalog must run them, not the embedded ones."""
    real = PgBinaries().path("pg_basebackup").parent
    bindir, calls = tmp_path / "bin", tmp_path / "calls.log"
    bindir.mkdir()
    for tool in real.iterdir():
        wrapper = bindir / tool.name
        wrapper.write_text(f'#!/bin/sh\necho {tool.name} >> {calls}\nexec {tool} "$@"\n')
        wrapper.chmod(0o755)
    catalog = BackupCatalog(platform.catalog.root, PgBinaries(bindir))
    backup = await catalog.take(platform.db.conninfo)
    assert catalog.verify(backup.id).ok
    ran = set(calls.read_text().split())
    assert {"pg_basebackup", "pg_verifybackup"} <= ran, ran


async def test_a_failing_wal_archive_raises_one_alert_for_operators(platform: Platform) -> None:
    rules, alerts = AnomalyRules(platform.db), _alerts(platform)
    assert await rules.archiver_findings() == []
    wal = platform.catalog.wal_dir
    mode = wal.stat().st_mode
    wal.chmod(0o500)  # the archiver can no longer write
    try:
        async with platform.db.connection() as conn:
            await conn.execute("SELECT pg_switch_wal()")
        for _ in range(150):
            findings = await rules.archiver_findings()
            if findings:
                break
            await asyncio.sleep(0.2)
        (finding,) = findings
        assert finding.rule == "wal_archive_failing" and "point-in-time" in finding.summary
        now = datetime.now(UTC)
        first = await alerts.raise_alert(finding, window_key="w1", quiet_since=now)
        again = await alerts.raise_alert(finding, window_key="w1", quiet_since=now)
        assert first is not None and again is None
        mails = await MailOutbox(platform.db).recent("oncall@example.com")
        assert [m.subject for m in mails].count(
            f"[MicroBuilder alert #{first}] {finding.rule}"
        ) == 1
    finally:
        wal.chmod(mode)
    await switch_wal_and_wait(platform.db.conninfo, wal, timeout_s=60)
    assert await rules.archiver_findings() == []  # archiving again: no alert condition


async def test_an_old_backup_cannot_reveal_an_erased_users_secrets(platform: Platform) -> None:
    """The backup holds the wrapped data key and the ciphertext; the erasure key that
    unwraps it never was in the database, and erasure shredded it."""
    for user in ("erin", "frank"):
        await TokenRepository(platform.db).ensure_user(user, user)
        await AppRepository(platform.db).ensure(f"{user}-app", user)
        await platform.secrets().set(Actor(user_id=user), f"{user}-app", "KEY", f"{user}-value")
    backup = await platform.catalog.take(platform.db.conninfo)
    await switch_wal_and_wait(platform.db.conninfo, platform.catalog.wal_dir)
    before_erasure = datetime.now(UTC)

    erasures = PrivacyErasures(platform.db, AuditLog(platform.db))
    await erasures.begin("erin", requested_by="operator:dpo")
    platform.owner_keys.shred("erin")
    await erasures.erase("erin")
    await switch_wal_and_wait(platform.db.conninfo, platform.catalog.wal_dir)

    into = platform.root / "restored-old"
    restored = await restore_to(
        platform.catalog,
        before_erasure,
        into,
        check_sql=[
            "SELECT s.owner_id, d.master_key_id, encode(d.wrapped, 'hex'),"
            " encode(s.ciphertext, 'hex') FROM secrets s JOIN data_keys d"
            " ON d.owner_id = s.owner_id AND d.version = s.data_key_version"
            " WHERE s.owner_id IN ('erin', 'frank') ORDER BY s.owner_id"
        ],
    )
    assert restored.backup_id == backup.id
    rows = restored.checks[0]
    assert [row[0] for row in rows] == ["erin", "frank"]  # the old backup still has both
    envelope = Envelope(lambda: RING, platform.owner_keys)
    opened: dict[str, bytes] = {}
    for owner, kid, wrapped, ciphertext in rows:
        assert owner and kid and wrapped and ciphertext
        ref = SecretRef(owner, f"{owner}-app", "KEY", 1, 1)
        try:
            data_key = envelope.unwrap(owner, 1, kid, bytes.fromhex(wrapped))
        except DataKeyErased:
            continue
        opened[owner] = Envelope.open(data_key, ref, bytes.fromhex(ciphertext))
    assert opened == {"frank": b"frank-value"}  # Frank's opens: the check can fail
    shutil.rmtree(into, ignore_errors=True)

"""Backup activities: take a base backup, verify it, prove it restores, prune, alert.

With key recovery wired in (the workers), a backup first refreshes the restore
canary and keeps an encrypted key escrow beside it (when an escrow recipient or
passphrase is configured); its drill restores the keys from that escrow too and
opens the canary in the restored copy: rows that restore but cannot be opened
fail the drill.

Retry-safe: a retried backup takes a new one (the interrupted directory has no
``backup.json``, is never listed and is pruned); verifying, drilling and pruning
only read or converge; an alert is raised once per backup.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.heartbeat import keep_alive
from activities.restore_usability import KeyRings, check_usable, write_canary
from monitoring.operator_alerts import OperatorAlerts
from schemas.anomalies import Finding
from schemas.backups import (
    BackupAlertInput,
    BackupError,
    BackupProgress,
    BackupRunInput,
    BackupVerification,
    BaseBackup,
    DrillResult,
    PruneResult,
    UsabilityCheck,
)
from schemas.escrow import KeyEscrow
from store.base_backups import BackupCatalog
from store.db import Database
from store.key_escrow import EscrowError, EscrowLock, import_escrow, open_escrow, seal
from store.pitr_restore import database_name, restore_to
from store.server_user import chown_to_server
from store.wal_archive import switch_wal_and_wait
from temporal import names

# What a drill counts in the restored database: proof the data, not just a server, is back.
DRILL_TABLES = ("users", "apps", "releases", "secrets", "audit_log", "schema_migrations")
log = logging.getLogger(__name__)

DRILL_CHECKS = [
    f"SELECT count(*) FROM {table}"  # noqa: S608 - constant table names
    for table in DRILL_TABLES
]


@dataclass(frozen=True)
class KeyRecovery:
    """What makes a backup recoverable beyond its rows: the live keys (the canary is
    written with them), the escrow document and how it is sealed and opened."""

    db: Database
    live_keys: Callable[[], KeyRings]
    escrow_document: Callable[[], KeyEscrow]
    erased: Callable[[], set[str]]
    seal_lock: EscrowLock | None
    open_lock: EscrowLock | None
    namespace: str


class BackupActivities:
    """Backups of the platform's database into one catalog."""

    def __init__(
        self,
        catalog: BackupCatalog | None,
        conninfo: str,
        alerts: OperatorAlerts,
        recovery: KeyRecovery | None = None,
    ) -> None:
        self._configured = catalog
        self._conninfo = conninfo
        self._alerts = alerts
        self._recovery = recovery

    @property
    def _catalog(self) -> BackupCatalog:
        if self._configured is None:
            raise ApplicationError(
                "backups are not configured on this worker (MB_BACKUP_DIR)",
                type="BackupsNotConfigured",
                non_retryable=True,
            )
        return self._configured

    @property
    def _drill_dir(self) -> Path:
        return self._catalog.root / "drills"

    @activity.defn(name=names.ACTIVITY_TAKE_BASE_BACKUP)
    async def take_base_backup(self, input: BackupRunInput) -> BaseBackup:
        """pg_basebackup into the catalog, heartbeating its progress."""

        def beat(progress: BackupProgress) -> None:
            activity.heartbeat(progress.model_dump(mode="json"))

        self._catalog.prepare()
        escrow = await self._prepare_recovery()
        try:
            return await self._catalog.take(
                self._conninfo, progress=beat, progress_interval=5.0, escrow=escrow
            )
        except BackupError as err:
            raise ApplicationError(str(err), type="BackupError") from None

    async def _prepare_recovery(self) -> bytes | None:
        """A fresh canary in the database, and the sealed escrow to keep with the backup."""
        recovery = self._recovery
        if recovery is None:
            return None
        try:
            await write_canary(recovery.db, recovery.live_keys())
        except Exception as err:  # the backup is still worth taking; its drill will say
            log.warning("the restore canary was not refreshed: %s", type(err).__name__)
        if recovery.seal_lock is None:
            return None
        try:
            return await asyncio.to_thread(seal, recovery.escrow_document(), recovery.seal_lock)
        except EscrowError as err:
            raise ApplicationError(str(err), type="EscrowError", non_retryable=True) from None

    @activity.defn(name=names.ACTIVITY_VERIFY_BACKUP)
    async def verify_backup(self, backup_id: str) -> BackupVerification:
        """pg_verifybackup plus the WAL archive's continuity since the backup began."""
        return await asyncio.to_thread(self._catalog.verify, backup_id)

    @activity.defn(name=names.ACTIVITY_RESTORE_DRILL)
    async def restore_drill(self, backup_id: str) -> DrillResult:
        """Restore the backup plus the archived WAL to now into a scratch directory,
        start it, count the tables that matter, throw it away; the result is kept
        beside the backup. A failed drill is a result (ok=False), not an error."""
        started = time.monotonic()
        into = self._drill_dir / f"{backup_id}-{int(time.time())}"
        scratch_keys = into.with_name(into.name + "-keys")
        target = datetime.now(UTC)
        usable: list[UsabilityCheck] = []

        async def inspect(conninfo: str) -> None:
            usable.append(await self._open_copy(backup_id, conninfo, scratch_keys))

        try:
            async with keep_alive(f"drill of {backup_id}"):
                # Recovery stops at the first commit after the target: switching WAL
                # commits one, after the target, and archives it.
                await switch_wal_and_wait(self._conninfo, self._catalog.wal_dir, timeout_s=120)
                self._drill_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
                chown_to_server(self._drill_dir)
                result = await restore_to(
                    self._catalog,
                    target,
                    into,
                    check_sql=DRILL_CHECKS,
                    dbname=database_name(self._conninfo),
                    inspect=None if self._recovery is None else inspect,
                )
            rows = {
                table: int(check[0][0] or 0)
                for table, check in zip(DRILL_TABLES, result.checks, strict=True)
            }
            problems = (
                []
                if result.backup_id == backup_id
                else [f"the restore used backup {result.backup_id}, not the newest"]
            )
            check = usable[0] if usable else None
            if check is not None:
                problems += check.problems
            drill = DrillResult(
                backup_id=result.backup_id,
                ok=not problems,
                target=target,
                recovered_to=result.recovered_to,
                elapsed_s=round(time.monotonic() - started, 2),
                rows=rows,
                problem="; ".join(problems)[:2000] or None,
                usable=check,
            )
        except BackupError as err:
            drill = DrillResult(
                backup_id=backup_id,
                ok=False,
                target=target,
                elapsed_s=round(time.monotonic() - started, 2),
                problem=str(err)[:2000],
            )
        finally:
            await asyncio.to_thread(shutil.rmtree, into, True)
            await asyncio.to_thread(shutil.rmtree, scratch_keys, True)
        self._catalog.record_drill(drill)
        return drill

    async def _open_copy(self, backup_id: str, conninfo: str, scratch: Path) -> UsabilityCheck:
        """The canary checks on the running copy, with the backup's escrowed keys when the
        worker can open them (else its own, said so in the result)."""
        recovery = self._recovery
        assert recovery is not None
        try:
            keys = await asyncio.to_thread(self._drill_keys, recovery, backup_id, scratch)
        except (EscrowError, BackupError) as err:
            return UsabilityCheck(
                keys_from="escrow",
                canary_secret=False,
                canary_audited=False,
                canary_payload=False,
                canary_signature=False,
                problems=[f"the backup's key escrow does not restore: {err}"[:500]],
            )
        db = Database(conninfo, min_size=1, max_size=2)
        await db.open()
        try:
            return await check_usable(db, keys)
        finally:
            await db.close()

    def _drill_keys(self, recovery: KeyRecovery, backup_id: str, scratch: Path) -> KeyRings:
        escrow = self._catalog.escrow(backup_id)
        if escrow is None:
            if recovery.seal_lock is not None:
                raise EscrowError("the backup has no escrow although one is configured")
            return recovery.live_keys()
        if recovery.open_lock is None:
            return recovery.live_keys()  # sealed for an operator only: it stays sealed
        scratch.mkdir(mode=0o700)
        import_escrow(
            open_escrow(escrow, recovery.open_lock),
            scratch,
            erased_elsewhere=recovery.erased(),
        )
        return KeyRings.from_directory(scratch, recovery.namespace, "escrow")

    @activity.defn(name=names.ACTIVITY_PRUNE_BACKUPS)
    async def prune_backups(self, keep: int) -> PruneResult:
        """Keep the newest ``keep`` backups and the WAL they need."""
        return await asyncio.to_thread(self._catalog.prune, keep)

    @activity.defn(name=names.ACTIVITY_ALERT_BACKUP)
    async def alert_backup(self, input: BackupAlertInput) -> int | None:
        """Raise an operator alert (stored, mailed, Sentry) once per rule and subject."""
        now = datetime.now(UTC)
        finding = Finding(rule=input.rule, subject=input.subject, count=1, summary=input.summary)
        return await self._alerts.raise_alert(
            finding, window_key=input.subject, quiet_since=now - timedelta(hours=1)
        )

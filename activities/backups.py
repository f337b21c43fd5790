"""Backup activities: take a base backup, verify it, prove it restores, prune, alert.

Retry-safe: a retried backup takes a new one (the interrupted directory has no
``backup.json``, is never listed and is pruned); verifying, drilling and pruning
only read or converge; an alert is raised once per backup.
"""

from __future__ import annotations

import asyncio
import shutil
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.heartbeat import keep_alive
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
)
from store.base_backups import BackupCatalog
from store.pitr_restore import database_name, restore_to
from store.server_user import chown_to_server
from store.wal_archive import switch_wal_and_wait
from temporal import names

# What a drill counts in the restored database: proof the data, not just a server, is back.
DRILL_TABLES = ("users", "apps", "releases", "secrets", "audit_log", "schema_migrations")
DRILL_CHECKS = [
    f"SELECT count(*) FROM {table}"  # noqa: S608 - constant table names
    for table in DRILL_TABLES
]


class BackupActivities:
    """Backups of the platform's database into one catalog."""

    def __init__(
        self, catalog: BackupCatalog | None, conninfo: str, alerts: OperatorAlerts
    ) -> None:
        self._configured = catalog
        self._conninfo = conninfo
        self._alerts = alerts

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
        try:
            return await self._catalog.take(self._conninfo, progress=beat, progress_interval=5.0)
        except BackupError as err:
            raise ApplicationError(str(err), type="BackupError") from None

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
        target = datetime.now(UTC)
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
                )
            rows = {
                table: int(check[0][0] or 0)
                for table, check in zip(DRILL_TABLES, result.checks, strict=True)
            }
            drill = DrillResult(
                backup_id=result.backup_id,
                ok=result.backup_id == backup_id,
                target=target,
                recovered_to=result.recovered_to,
                elapsed_s=round(time.monotonic() - started, 2),
                rows=rows,
                problem=None
                if result.backup_id == backup_id
                else f"the restore used backup {result.backup_id}, not the newest",
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
        self._catalog.record_drill(drill)
        return drill

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

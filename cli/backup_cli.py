"""Operators' backup commands: ``mb backup list``, ``mb backup now`` (BackupWorkflow on
the workers) and ``mb restore --to TIMESTAMP --into DIR`` (local, no Temporal needed:
restoring is what you do when things are broken)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from temporalio.client import WorkflowFailureError
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from cli import endpoints
from cli.commands import CommandError, database, temporal
from cli.endpoints import StackNotRunning
from schemas.backups import (
    BackupError,
    BackupListing,
    BackupRunInput,
    BackupRunResult,
    RestoreResult,
)
from schemas.settings import Settings
from store.base_backups import BackupCatalog, configured_catalog
from store.pitr_restore import DEFAULT_CHECKS, database_name, restore_to
from store.wal_archive import external_server_settings, switch_wal_and_wait
from temporal import names

log = logging.getLogger(__name__)


def catalog(settings: Settings) -> BackupCatalog:
    """The configured backup catalog; a clear error when backups are off."""
    found = configured_catalog(settings)
    if found is None:
        raise CommandError(
            "backups are not configured: set MB_BACKUP_DIR (with an external database,"
            " also configure its WAL archiving into <MB_BACKUP_DIR>/wal)"
        )
    return found


def list_backups(settings: Settings) -> list[BackupListing]:
    """Complete base backups, newest first, with their last restore drill."""
    found = catalog(settings)
    return [BackupListing(backup=b, drill=found.drill(b.id)) for b in found.list()]


def archive_settings(settings: Settings) -> str:
    """What an external server's operator adds to postgresql.conf (then restarts it)."""
    return external_server_settings(catalog(settings).wal_dir)


async def backup_now(settings: Settings) -> BackupRunResult:
    """Run BackupWorkflow now (backup, verify, drill, prune) and wait for it."""
    catalog(settings)  # configured here, or refuse before asking the workers
    client = await temporal(settings)
    try:
        handle = await client.start_workflow(
            names.BACKUP_WORKFLOW_TYPE,
            BackupRunInput(reason="by hand", drill=True, keep=settings.backup_keep),
            id=names.BACKUP_NOW_WORKFLOW_ID,
            task_queue=names.PIPELINE_TASK_QUEUE,
            result_type=BackupRunResult,
            id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
        )
    except WorkflowAlreadyStartedError:
        raise CommandError("a backup started by hand is running; wait for it") from None
    try:
        result: BackupRunResult = await handle.result()
    except WorkflowFailureError as err:  # the reason is the activity's or the alert's
        raise CommandError(f"the backup failed: {err.cause or err}") from None
    return result


async def restore(
    settings: Settings, to: datetime, into: Path, checks: Sequence[str], *, primary: bool = False
) -> RestoreResult:
    """Recover the database as of ``to`` into the empty directory ``into``, verified
    (pg_verifybackup, WAL continuity) and test-started; ``checks`` run on it. With
    ``primary`` the result replaces a lost server and archives once started."""
    if to.tzinfo is None:
        raise CommandError("--to needs a time zone, e.g. 2026-11-29T14:05:00+00:00")
    found = catalog(settings)
    await _archive_recent_wal(settings, found)
    try:
        return await restore_to(
            found,
            to,
            into,
            found.binaries,
            check_sql=list(checks) or DEFAULT_CHECKS,
            dbname=_dbname(settings),
            primary=primary,
        )
    except BackupError as err:
        raise CommandError(str(err)) from None


async def _archive_recent_wal(settings: Settings, found: BackupCatalog) -> None:
    """While the database still runs, archive its current WAL so "a minute ago" is
    restorable; when it is down, restore from what the archive already holds."""
    try:
        async with database(settings) as db:
            await switch_wal_and_wait(db.conninfo, found.wal_dir, timeout_s=60)
    except Exception as err:  # down or unreachable: the archive is what we have
        log.warning("could not archive the current WAL first (%s)", type(err).__name__)


def _dbname(settings: Settings) -> str:
    """The platform's database name (the check queries run there)."""
    try:
        url = endpoints.resolve(settings).database_url
    except StackNotRunning:
        return "postgres"  # the embedded stack's database
    return database_name(url)

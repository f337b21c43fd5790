"""Operators' backup commands: ``mb backup list``, ``mb backup archive-settings``,
``mb backup now`` (BackupWorkflow on the workers) and ``mb restore --to TIMESTAMP --into
DIR`` (local, no Temporal needed: restoring is what you do when things are broken)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from temporalio.client import WorkflowFailureError
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from cli import endpoints
from cli.endpoints import StackNotRunning, database, temporal
from cli.runner import CommandError, JsonFlag, console, load_settings, run, show_rows
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

top_level = typer.Typer()
backup_app = typer.Typer(help="Base backups and the WAL archive (point-in-time recovery).")


@backup_app.command("list")
def backup_list(as_json: JsonFlag = False) -> None:
    """Complete base backups, newest first, with their last restore drill."""

    def line(row: BackupListing) -> str:
        b, drill = row.backup, row.drill
        proven = "not drilled" if drill is None else ("drill ok" if drill.ok else "DRILL FAILED")
        return (
            f"{b.id}  finished {b.finished_at:%Y-%m-%d %H:%M:%S}Z"
            f"  {b.size_bytes / 1e6:.1f} MB  WAL from {b.start_wal}  {proven}"
        )

    async def main() -> int:
        rows = list_backups(load_settings())
        return show_rows(rows, as_json=as_json, empty="no backups yet", line=line)

    run(main())


@backup_app.command("archive-settings")
def backup_archive_settings() -> None:
    """The postgresql.conf lines an external server needs to archive into MB_BACKUP_DIR."""

    async def main() -> int:
        print(archive_settings(load_settings()), end="")
        return 0

    run(main())


@backup_app.command("now")
def backup_now() -> None:
    """Take a base backup now, verify it, prove it restores, prune old ones (workers)."""

    async def main() -> int:
        result = await take_backup(load_settings())
        drill = result.drill
        console.print(
            f"backup {result.backup.id}: verified, {result.backup.size_bytes / 1e6:.1f} MB"
        )
        if drill is not None:
            console.print(f"restore drill ok in {drill.elapsed_s:.1f} s: {drill.rows}")
        if result.pruned.removed_backups:
            console.print(f"pruned {', '.join(result.pruned.removed_backups)}")
        return 0

    run(main())


@top_level.command("restore")
def restore(
    to: Annotated[
        datetime, typer.Option("--to", help="the moment to recover, with a time zone (ISO 8601)")
    ],
    into: Annotated[Path, typer.Option("--into", help="an empty directory for the data")],
    check: Annotated[
        list[str] | None, typer.Option("--check", help="a query to run on the result")
    ] = None,
    primary: Annotated[
        bool, typer.Option(help="the result replaces a lost server: it archives once started")
    ] = False,
) -> None:
    """Point-in-time recovery: the newest base backup before TIMESTAMP plus the archived
    WAL, replayed to TIMESTAMP into DIR, verified and test-started (the live database is
    not touched; start a server on DIR to use it)."""

    async def main() -> int:
        result = await recover(load_settings(), to, into, check or [], primary=primary)
        console.print(
            f"restored backup {result.backup_id} to {result.target.isoformat()} into {into}"
            f" in {result.elapsed_s:.1f} s (last transaction {result.recovered_to})"
        )
        for query, rows in zip(check or [], result.checks, strict=False):
            console.print(f"{escape(query)}: {rows}")
        return 0

    run(main())


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


async def take_backup(settings: Settings) -> BackupRunResult:
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


async def recover(
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

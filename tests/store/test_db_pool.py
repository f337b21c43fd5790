"""The connection pool's check: a connection idle for a while is checked before it goes
out (a dropped one is replaced, the caller never sees it); one that just worked goes
out unchecked (no extra round trip per statement), and if PostgreSQL dropped it in
that moment the statement fails with OperationalError (the API's 503) and the pool
replaces it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import psycopg
import pytest

from store import db as db_module
from store.db import Database


async def _backend_pid(db: Database) -> int:
    async with db.connection() as conn:
        row = await (await conn.execute("SELECT pg_backend_pid() AS pid")).fetchone()
    assert row is not None
    return int(row["pid"])


async def _terminate(pg_uri: str, pid: int) -> None:
    async with await psycopg.AsyncConnection.connect(pg_uri, autocommit=True) as admin:
        await admin.execute("SELECT pg_terminate_backend(%s)", (pid,))


@pytest.fixture
async def single(db: Database) -> AsyncIterator[Database]:
    """A pool of one connection to the test's database."""
    pool = Database(db.conninfo, min_size=1, max_size=1)
    await pool.open()
    yield pool
    await pool.close()


async def test_an_idle_connection_dropped_by_the_server_is_replaced_unseen(
    pg_uri: str, single: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(db_module, "RECENTLY_RETURNED_S", 0.05)
    first = await _backend_pid(single)
    await _terminate(pg_uri, first)
    await asyncio.sleep(0.2)  # idle past the window: checked, found dead, replaced
    assert await _backend_pid(single) != first


async def test_a_connection_that_just_worked_goes_out_without_a_check(
    pg_uri: str, single: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(db_module, "RECENTLY_RETURNED_S", 60.0)
    first = await _backend_pid(single)
    await _terminate(pg_uri, first)
    with pytest.raises(psycopg.OperationalError):
        await _backend_pid(single)  # no check ran: the statement met the drop
    assert await _backend_pid(single) != first  # and the pool replaced it

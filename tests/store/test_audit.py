"""The audit log: append-only in the database, hash-chained, and `verify` names the
first row that was altered, deleted or reordered."""

from __future__ import annotations

import asyncio

import psycopg
import pytest

from schemas.audit import Actor, AuditAction, AuditEvent, AuditOutcome
from store.audit import AuditLog
from store.db import Database


def _event(i: int, user: str = "alice") -> AuditEvent:
    return AuditEvent(
        actor=Actor(user_id=user, client_ip="127.0.0.1"),
        action=AuditAction.SECRET_REVEAL,
        resource=f"secret:shop/KEY_{i}",
        outcome=AuditOutcome.OK,
        detail={"version": i},
    )


async def _fill(audit: AuditLog, n: int) -> None:
    for i in range(n):
        await audit.record(_event(i))


async def _as_attacker(db: Database, *statements: str) -> None:
    """A superuser who bypasses the append-only trigger (what verify must catch)."""
    async with db.transaction() as conn:
        await conn.execute("ALTER TABLE audit_log DISABLE TRIGGER USER")
        for statement in statements:
            await conn.execute(statement)
        await conn.execute("ALTER TABLE audit_log ENABLE TRIGGER USER")


async def test_an_intact_chain_verifies(db: Database) -> None:
    audit = AuditLog(db)
    assert (await audit.verify()).ok
    await _fill(audit, 5)
    result = await audit.verify(batch=2)  # crosses batch boundaries
    assert result.ok and result.rows_checked == 5
    rows = await audit.search(newest_first=False)
    assert [r.seq for r in rows] == [1, 2, 3, 4, 5]
    assert all(rows[i].prev_hash == rows[i - 1].hash for i in range(1, 5))


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_log SET outcome = 'denied' WHERE seq = 2",
        "DELETE FROM audit_log WHERE seq = 2",
        "TRUNCATE audit_log",
    ],
)
async def test_the_database_refuses_to_change_the_log(db: Database, statement: str) -> None:
    audit = AuditLog(db)
    await _fill(audit, 3)
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
        async with db.connection() as conn:
            await conn.execute(statement)
    assert (await audit.verify()).rows_checked == 3


async def test_an_altered_row_is_found(db: Database) -> None:
    audit = AuditLog(db)
    await _fill(audit, 6)
    await _as_attacker(db, "UPDATE audit_log SET actor = 'mallory' WHERE seq = 4")
    result = await audit.verify()
    assert not result.ok
    assert result.first_bad_seq == 4 and result.rows_checked == 3
    assert "altered" in (result.problem or "")


async def test_an_altered_detail_or_time_is_found(db: Database) -> None:
    audit = AuditLog(db)
    await _fill(audit, 3)
    await _as_attacker(db, "UPDATE audit_log SET at = at + interval '1 second' WHERE seq = 2")
    assert (await audit.verify()).first_bad_seq == 2


async def test_a_deleted_row_is_found(db: Database) -> None:
    audit = AuditLog(db)
    await _fill(audit, 5)
    await _as_attacker(db, "DELETE FROM audit_log WHERE seq = 3")
    result = await audit.verify()
    assert not result.ok and result.first_bad_seq == 3
    assert "missing" in (result.problem or "")


async def test_reordered_rows_are_found(db: Database) -> None:
    audit = AuditLog(db)
    await _fill(audit, 5)
    # Swap rows 2 and 3 wholesale, renumbered so the sequence has no gap.
    await _as_attacker(
        db,
        "UPDATE audit_log SET seq = seq + 1000 WHERE seq IN (2, 3)",
        "UPDATE audit_log SET seq = CASE seq WHEN 1002 THEN 3 ELSE 2 END WHERE seq IN (1002, 1003)",
    )
    result = await audit.verify()
    assert not result.ok and result.first_bad_seq == 2
    assert "does not follow" in (result.problem or "")


async def test_a_flood_of_concurrent_appends_keeps_one_chain(db: Database) -> None:
    audit = AuditLog(db)
    await asyncio.gather(*(audit.record(_event(i, f"user{i % 7}")) for i in range(60)))
    result = await audit.verify()
    assert result.ok and result.rows_checked == 60


async def test_search_filters(db: Database) -> None:
    audit = AuditLog(db)
    await audit.record(_event(1, "alice"))
    await audit.record(_event(2, "bob"))
    await audit.record(
        AuditEvent(
            actor=Actor(user_id="bob"),
            action=AuditAction.SECRET_SET,
            resource="secret:blog/TOKEN",
            outcome=AuditOutcome.DENIED,
        )
    )
    assert [r.seq for r in await audit.search(actor="bob")] == [3, 2]
    assert [r.seq for r in await audit.search(outcome="denied")] == [3]
    assert [r.seq for r in await audit.search(resource_prefix="secret:shop/")] == [2, 1]
    assert [r.seq for r in await audit.search(after_seq=1, newest_first=False)] == [2, 3]
    assert [r.seq for r in await audit.search(limit=1)] == [3]
    head = await audit.head()
    assert head is not None and head.seq == 3


async def test_a_detail_that_would_not_round_trip_is_refused(db: Database) -> None:
    audit = AuditLog(db)
    event = _event(1).model_copy(update={"detail": {"score": 0.5}})
    with pytest.raises(TypeError, match="float is not allowed"):
        await audit.record(event)
    assert await audit.head() is None

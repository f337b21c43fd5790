"""The append-only, hash-chained audit log.

Each row's hash is SHA-256 over the previous row's hash and a canonical JSON
of the row, so rewriting, deleting or reordering any row breaks the chain
from that row on; ``verify`` names the first row that does not check out.
Rows are appended inside the caller's transaction (the access and its audit
row commit together or not at all) under a transaction-scoped advisory lock,
which keeps the chain linear across processes. The database itself refuses
UPDATE, DELETE and TRUNCATE on the table (migration 0003).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg import AsyncConnection, sql
from psycopg.rows import DictRow
from psycopg.types.json import Jsonb

from schemas.audit import AuditEvent, AuditRecord, AuditVerification
from store.db import Database

GENESIS = b"\0" * 32
# Serialises appends across processes ("mbaud").
_AUDIT_LOCK = 0x6D62617564
_SELECT = (
    "SELECT seq, at, actor, client_ip, action, resource, outcome, detail, prev_hash, hash"
    " FROM audit_log"
)
_INSERT = (
    "INSERT INTO audit_log"
    " (seq, at, actor, client_ip, action, resource, outcome, detail, prev_hash, hash)"
    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
)


class AuditWriteFailed(RuntimeError):
    """The audit row could not be written, so the audited action is refused."""


def _check_detail(value: Any, path: str = "detail") -> None:
    """Details hold only JSON values that round-trip exactly through jsonb."""
    if value is None or isinstance(value, bool | int | str):
        return
    if isinstance(value, list):
        for i, item in enumerate(value):
            _check_detail(item, f"{path}[{i}]")
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"{path}: keys must be strings")
            _check_detail(item, f"{path}.{key}")
        return
    raise TypeError(f"{path}: {type(value).__name__} is not allowed in an audit detail")


def canonical_row(
    seq: int,
    at: datetime,
    actor: str,
    client_ip: str | None,
    action: str,
    resource: str,
    outcome: str,
    detail: dict[str, Any],
) -> bytes:
    """The bytes a row's hash covers (everything but the hashes themselves)."""
    body = {
        "seq": seq,
        "at": at.astimezone(UTC).isoformat(timespec="microseconds"),
        "actor": actor,
        "client_ip": client_ip,
        "action": action,
        "resource": resource,
        "outcome": outcome,
        "detail": detail,
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def chain_hash(prev_hash: bytes, body: bytes) -> bytes:
    """A row's hash: SHA-256(previous hash || canonical row)."""
    return hashlib.sha256(prev_hash + body).digest()


def _record(row: DictRow) -> AuditRecord:
    return AuditRecord(
        seq=int(row["seq"]),
        at=row["at"],
        actor=str(row["actor"]),
        client_ip=row["client_ip"],
        action=str(row["action"]),
        resource=str(row["resource"]),
        outcome=str(row["outcome"]),
        detail=dict(row["detail"]),
        prev_hash=bytes(row["prev_hash"]).hex(),
        hash=bytes(row["hash"]).hex(),
    )


class AuditLog:
    """Append to, read and verify the audit log."""

    def __init__(self, db: Database, *, clock: Callable[[], datetime] | None = None) -> None:
        self._db = db
        self._clock = clock or (lambda: datetime.now(UTC))

    async def append(self, conn: AsyncConnection[DictRow], event: AuditEvent) -> AuditRecord:
        """Append ``event`` inside the transaction open on ``conn``.

        Raises AuditWriteFailed if the row cannot be written; the caller's
        transaction is then aborted, so the audited action does not happen.
        """
        _check_detail(event.detail)
        try:
            await conn.execute("SELECT pg_advisory_xact_lock(%s)", (_AUDIT_LOCK,))
            last = await (
                await conn.execute("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
            ).fetchone()
            seq = 1 if last is None else int(last["seq"]) + 1
            prev = GENESIS if last is None else bytes(last["hash"])
            at = self._clock()
            body = canonical_row(
                seq,
                at,
                event.actor.user_id,
                event.actor.client_ip,
                event.action.value,
                event.resource,
                event.outcome.value,
                event.detail,
            )
            digest = chain_hash(prev, body)
            await conn.execute(
                _INSERT,
                (
                    seq,
                    at,
                    event.actor.user_id,
                    event.actor.client_ip,
                    event.action.value,
                    event.resource,
                    event.outcome.value,
                    Jsonb(event.detail),
                    prev,
                    digest,
                ),
            )
        except psycopg.Error as exc:
            raise AuditWriteFailed(
                f"the audit log could not be written ({type(exc).__name__}); "
                f"{event.action.value} on {event.resource} was refused"
            ) from None
        return AuditRecord(
            seq=seq,
            at=at,
            actor=event.actor.user_id,
            client_ip=event.actor.client_ip,
            action=event.action.value,
            resource=event.resource,
            outcome=event.outcome.value,
            detail=event.detail,
            prev_hash=prev.hex(),
            hash=digest.hex(),
        )

    async def record(self, event: AuditEvent) -> AuditRecord:
        """Append ``event`` in its own transaction (e.g. a refused attempt)."""
        try:
            async with self._db.transaction() as conn:
                return await self.append(conn, event)
        except psycopg.Error as exc:
            raise AuditWriteFailed(
                f"the audit log could not be written ({type(exc).__name__})"
            ) from None

    async def search(
        self,
        *,
        actor: str | None = None,
        action: str | None = None,
        resource_prefix: str | None = None,
        outcome: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        after_seq: int | None = None,
        limit: int = 100,
        newest_first: bool = True,
    ) -> list[AuditRecord]:
        """Rows matching every given filter (at most ``limit``)."""
        where: list[sql.Composable] = []
        args: list[Any] = []
        for clause, value in (
            ("actor = %s", actor),
            ("action = %s", action),
            ("outcome = %s", outcome),
            ("at >= %s", since),
            ("at < %s", until),
            ("seq > %s", after_seq),
        ):
            if value is not None:
                where.append(sql.SQL(clause))
                args.append(value)
        if resource_prefix is not None:
            where.append(sql.SQL("starts_with(resource, %s)"))
            args.append(resource_prefix)
        query: sql.Composable = sql.SQL(_SELECT)
        if where:
            query += sql.SQL(" WHERE ") + sql.SQL(" AND ").join(where)
        query += sql.SQL(" ORDER BY seq DESC" if newest_first else " ORDER BY seq ASC")
        query += sql.SQL(" LIMIT %s")
        args.append(max(1, min(limit, 10_000)))
        async with self._db.connection() as conn:
            rows = await (await conn.execute(query, args)).fetchall()
        return [_record(r) for r in rows]

    async def verify(self, *, batch: int = 2000) -> AuditVerification:
        """Walk the chain from the first row; stop at the first row that breaks it."""
        expected_seq = 1
        prev = GENESIS
        checked = 0
        async with self._db.connection() as conn:
            while True:
                rows: Sequence[DictRow] = await (
                    await conn.execute(
                        _SELECT + " WHERE seq >= %s ORDER BY seq LIMIT %s",
                        (expected_seq, batch),
                    )
                ).fetchall()
                if not rows:
                    return AuditVerification(ok=True, rows_checked=checked)
                for row in rows:
                    seq = int(row["seq"])
                    problem = self._check(row, expected_seq, prev)
                    if problem is not None:
                        return AuditVerification(
                            ok=False,
                            rows_checked=checked,
                            first_bad_seq=min(seq, expected_seq),
                            problem=problem,
                        )
                    checked += 1
                    expected_seq = seq + 1
                    prev = bytes(row["hash"])

    @staticmethod
    def _check(row: DictRow, expected_seq: int, prev: bytes) -> str | None:
        seq = int(row["seq"])
        if seq != expected_seq:
            return f"rows {expected_seq}..{seq - 1} are missing (deleted?)"
        if bytes(row["prev_hash"]) != prev:
            return f"row {seq} does not follow row {seq - 1} (reordered or replaced?)"
        body = canonical_row(
            seq,
            row["at"],
            str(row["actor"]),
            row["client_ip"],
            str(row["action"]),
            str(row["resource"]),
            str(row["outcome"]),
            dict(row["detail"]),
        )
        if chain_hash(prev, body) != bytes(row["hash"]):
            return f"row {seq} was altered (its hash does not match its contents)"
        return None

    async def head(self) -> AuditRecord | None:
        """The newest row (its hash anchors the whole chain)."""
        rows = await self.search(limit=1)
        return rows[0] if rows else None

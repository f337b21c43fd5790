"""Egress in PostgreSQL: operators' approvals, the pending requests they decide, and
what the proxies decided (refusals one row each, allowed connections as counts).

An approval is per app and ``host:port`` and outlives releases: a later release
declaring the same target needs none. Deciding is audited in the same
transaction (fail closed). The proxies' decision logs are read from the offset
stored per host and file, in the transaction that stores their rows, so a
line is never counted twice nor skipped.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Collection, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ValidationError

from schemas.audit import Actor, AuditAction, AuditEvent, AuditOutcome
from schemas.egress import EgressDecision, EgressTarget
from store.audit import AuditLog
from store.db import Database

log = logging.getLogger(__name__)

Decision = Literal["approve", "reject"]
INGEST_BATCH = 5000
"""Decision lines read from a log per transaction."""


class EgressRequest(BaseModel):
    """A declared target awaiting an operator's decision (the review queue's egress part)."""

    app_id: str
    target: str
    version: int
    requested_at: datetime


class EgressHostUse(BaseModel):
    """An app's egress to one ``host:port``: allowed connections and refusals."""

    host: str
    port: int
    connections: int = 0
    bytes_up: int = 0
    bytes_down: int = 0
    refused: int = 0
    last_at: datetime | None = None


class EgressRefusalRow(BaseModel):
    """One audited refusal."""

    at: datetime
    host: str
    app_id: str
    version: int
    target: str
    port: int
    reason: str
    detail: str


class EgressApprovals:
    """Approvals and pending requests (decisions audited, fail closed)."""

    def __init__(self, db: Database, audit: AuditLog) -> None:
        self._db = db
        self._audit = audit

    async def approved(
        self, app_id: str, version: int, needing_approval: Sequence[str]
    ) -> Collection[str]:
        """The approved ones of ``needing_approval``; the undecided are queued for review."""
        async with self._db.transaction() as conn:
            rows = await (
                await conn.execute(
                    "SELECT target, decision FROM egress_approvals WHERE app_id = %s",
                    (app_id,),
                )
            ).fetchall()
            decided = {str(r["target"]): str(r["decision"]) for r in rows}
            for target in needing_approval:
                if target not in decided:
                    await conn.execute(
                        "INSERT INTO egress_requests (app_id, target, version)"
                        " VALUES (%s, %s, %s) ON CONFLICT (app_id, target) DO NOTHING",
                        (app_id, target, version),
                    )
        return {t for t in needing_approval if decided.get(t) == "approve"}

    async def pending(self, app_id: str | None = None) -> list[EgressRequest]:
        """Targets awaiting a decision, oldest first."""
        async with self._db.connection() as conn:
            rows = await (
                await conn.execute(
                    "SELECT app_id, target, version, requested_at FROM egress_requests"
                    " WHERE %s::text IS NULL OR app_id = %s ORDER BY requested_at, app_id, target",
                    (app_id, app_id),
                )
            ).fetchall()
        return [EgressRequest.model_validate(r) for r in rows]

    async def decide(
        self, app_id: str, target: str, decision: Decision, *, reason: str, actor: Actor
    ) -> None:
        """Approve or reject ``target`` for ``app_id`` (replacing an earlier decision)."""
        canonical = str(EgressTarget.parse(target))
        async with self._db.transaction() as conn:
            await self._audit.append(
                conn,
                AuditEvent(
                    actor=actor,
                    action=AuditAction.EGRESS_DECIDE,
                    resource=f"app:{app_id}",
                    outcome=AuditOutcome.OK,
                    detail={"target": canonical, "decision": decision, "reason": reason},
                ),
            )
            await conn.execute(
                "INSERT INTO egress_approvals (app_id, target, decision, reason, decided_by)"
                " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (app_id, target) DO UPDATE SET"
                " decision = EXCLUDED.decision, reason = EXCLUDED.reason,"
                " decided_by = EXCLUDED.decided_by, decided_at = now()",
                (app_id, canonical, decision, reason, actor.user_id),
            )
            await conn.execute(
                "DELETE FROM egress_requests WHERE app_id = %s AND target = %s",
                (app_id, canonical),
            )


class EgressRecords:
    """What the proxies decided, read from their decision logs."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def ingest(self, host: str, log_path: Path) -> int:
        """Store the decisions appended to ``log_path`` since the last call; returns how many."""
        total = 0
        while True:
            stored = await self._ingest_batch(host, log_path)
            total += stored
            if stored < INGEST_BATCH:
                return total

    async def _ingest_batch(self, host: str, log_path: Path) -> int:
        async with self._db.transaction() as conn:
            row = await (
                await conn.execute(
                    "SELECT read_to FROM egress_log_offsets WHERE host = %s AND log_path = %s"
                    " FOR UPDATE",
                    (host, str(log_path)),
                )
            ).fetchone()
            offset = int(row["read_to"]) if row else 0
            decisions, read_to = await asyncio.to_thread(_read_from, log_path, offset, INGEST_BATCH)
            for d in decisions:
                at = datetime.fromtimestamp(d.at, UTC)
                if d.allowed:
                    await conn.execute(
                        "INSERT INTO egress_counts (app_id, target, port, connections,"
                        " bytes_up, bytes_down, last_at) VALUES (%s, %s, %s, 1, %s, %s, %s)"
                        " ON CONFLICT (app_id, target, port) DO UPDATE SET"
                        " connections = egress_counts.connections + 1,"
                        " bytes_up = egress_counts.bytes_up + EXCLUDED.bytes_up,"
                        " bytes_down = egress_counts.bytes_down + EXCLUDED.bytes_down,"
                        " last_at = greatest(egress_counts.last_at, EXCLUDED.last_at)",
                        (d.app_id, d.host, d.port, d.bytes_up, d.bytes_down, at),
                    )
                else:
                    await conn.execute(
                        "INSERT INTO egress_refusals (at, host, app_id, version, target, port,"
                        " reason, detail) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                        (
                            at,
                            host,
                            d.app_id,
                            d.version,
                            d.host,
                            d.port,
                            d.reason.value if d.reason else "unknown",
                            d.detail,
                        ),
                    )
            await conn.execute(
                "INSERT INTO egress_log_offsets (host, log_path, read_to) VALUES (%s, %s, %s)"
                " ON CONFLICT (host, log_path) DO UPDATE SET read_to = EXCLUDED.read_to",
                (host, str(log_path), read_to),
            )
        return len(decisions)

    async def per_host(self, app_id: str) -> list[EgressHostUse]:
        """The app's egress per ``host:port``: allowed counts and refusals, busiest first."""
        async with self._db.connection() as conn:
            rows = await (
                await conn.execute(
                    "WITH refused AS (SELECT target, port, count(*) AS n, max(at) AS last_at"
                    "  FROM egress_refusals WHERE app_id = %s GROUP BY target, port)"
                    " SELECT coalesce(c.target, r.target) AS host,"
                    "  coalesce(c.port, r.port) AS port,"
                    "  coalesce(c.connections, 0) AS connections,"
                    "  coalesce(c.bytes_up, 0) AS bytes_up,"
                    "  coalesce(c.bytes_down, 0) AS bytes_down,"
                    "  coalesce(r.n, 0) AS refused,"
                    "  greatest(c.last_at, r.last_at) AS last_at"
                    " FROM (SELECT * FROM egress_counts WHERE app_id = %s) c"
                    " FULL JOIN refused r ON c.target = r.target AND c.port = r.port"
                    " ORDER BY connections DESC, refused DESC, host, port",
                    (app_id, app_id),
                )
            ).fetchall()
        return [EgressHostUse.model_validate(r) for r in rows]

    async def refusals(
        self, *, since: datetime | None = None, app_id: str | None = None, limit: int = 100
    ) -> list[EgressRefusalRow]:
        """Refusals, newest first."""
        async with self._db.connection() as conn:
            rows = await (
                await conn.execute(
                    "SELECT at, host, app_id, version, target, port, reason, detail"
                    " FROM egress_refusals WHERE (%s::timestamptz IS NULL OR at > %s)"
                    " AND (%s::text IS NULL OR app_id = %s) ORDER BY at DESC, id DESC LIMIT %s",
                    (since, since, app_id, app_id, limit),
                )
            ).fetchall()
        return [EgressRefusalRow.model_validate(r) for r in rows]


def _read_from(path: Path, offset: int, limit: int) -> tuple[list[EgressDecision], int]:
    """Up to ``limit`` complete lines from ``offset``; the offset after the last one read."""
    if not path.exists():
        return [], offset
    if os.path.getsize(path) < offset:
        offset = 0  # the log was replaced: read the new one from its start
    decisions: list[EgressDecision] = []
    with path.open("rb") as f:
        f.seek(offset)
        while len(decisions) < limit:
            line = f.readline()
            if not line.endswith(b"\n"):
                break  # a line still being written: next time
            offset += len(line)
            try:
                decisions.append(EgressDecision.model_validate_json(line))
            except ValidationError:
                if line.strip():
                    log.warning("egress: unreadable line at byte %d of %s", offset, path)
    return decisions, offset

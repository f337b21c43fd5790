"""Incident records: what happened to an app, when, why, and who (or what) did it."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel

from store.db import Database
from store.storable_text import storable

IncidentKind = Literal[
    "rollback", "automatic_rollback", "reconciliation", "refused_signal", "host_lost"
]


class Incident(BaseModel):
    """One recorded incident."""

    id: int
    at: datetime
    kind: IncidentKind
    app_id: str
    owner_id: str
    from_version: int | None
    to_version: int | None
    reason: str
    actor: str


class IncidentLog:
    """Record incidents (idempotent per request id) and list them."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def record(
        self,
        *,
        kind: IncidentKind,
        app_id: str,
        owner_id: str,
        from_version: int | None,
        to_version: int | None,
        reason: str,
        actor: str,
        request_id: str,
    ) -> bool:
        """Record once per ``request_id``; returns whether this call recorded it."""
        async with self._db.connection() as conn:
            cur = await conn.execute(
                "INSERT INTO incidents (kind, app_id, owner_id, from_version, to_version,"
                " reason, actor, request_id) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
                " ON CONFLICT (request_id) DO NOTHING",
                (
                    kind,
                    storable(app_id),
                    storable(owner_id),
                    from_version,
                    to_version,
                    storable(reason[:1000]),
                    storable(actor),
                    storable(request_id),
                ),
            )
        return cur.rowcount == 1

    async def search(
        self, *, app_id: str | None = None, since: datetime | None = None, limit: int = 100
    ) -> list[Incident]:
        """Incidents, newest first."""
        async with self._db.connection() as conn:
            rows = await (
                await conn.execute(
                    "SELECT id, at, kind, app_id, owner_id, from_version, to_version, reason, actor"
                    " FROM incidents WHERE (%s::text IS NULL OR app_id = %s)"
                    " AND (%s::timestamptz IS NULL OR at >= %s) ORDER BY id DESC LIMIT %s",
                    (app_id, app_id, since, since, limit),
                )
            ).fetchall()
        return [Incident.model_validate(r) for r in rows]

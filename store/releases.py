"""Releases (versions that went live) and the gateway's routes."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from store.db import Database
from store.storable_text import storable


class Route(BaseModel):
    """Where the gateway sends an app's traffic."""

    app_id: str
    version: int
    instance_id: str
    socket_path: str
    host: str
    updated_at: datetime


class ReleaseRow(BaseModel):
    """A release as stored."""

    app_id: str
    version: int
    deployment_id: str
    bundle_hash: str
    host: str
    instance_id: str
    created_at: datetime
    evidence_id: str | None = None


class ReleaseRepository:
    """Record releases and switch routes, atomically and idempotently."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def record(
        self,
        *,
        app_id: str,
        owner_id: str,
        version: int,
        deployment_id: str,
        bundle_hash: str,
        host: str,
        instance_id: str,
        evidence_id: str | None = None,
    ) -> ReleaseRow:
        """Record a release once per deployment; returns the stored row."""
        async with self._db.transaction() as conn:
            await conn.execute(
                "INSERT INTO apps (app_id, owner_id) VALUES (%s, %s) ON CONFLICT DO NOTHING",
                (app_id, owner_id),
            )
            await conn.execute(
                "INSERT INTO releases (app_id, version, deployment_id, bundle_hash, host,"
                " instance_id, evidence_id) VALUES (%s, %s, %s, %s, %s, %s, %s)"
                " ON CONFLICT (deployment_id) DO NOTHING",
                (app_id, version, deployment_id, bundle_hash, host, instance_id, evidence_id),
            )
            row = await (
                await conn.execute(
                    "SELECT * FROM releases WHERE deployment_id = %s", (deployment_id,)
                )
            ).fetchone()
        return ReleaseRow.model_validate(row)

    async def for_app(self, app_id: str) -> list[ReleaseRow]:
        """An app's releases, oldest first."""
        async with self._db.connection() as conn:
            rows = await (
                await conn.execute(
                    "SELECT * FROM releases WHERE app_id = %s ORDER BY version", (app_id,)
                )
            ).fetchall()
        return [ReleaseRow.model_validate(r) for r in rows]

    async def count_for_deployment(self, deployment_id: str) -> int:
        """How many releases a deployment produced (exactly one when it went live)."""
        async with self._db.connection() as conn:
            row = await (
                await conn.execute(
                    "SELECT count(*) AS n FROM releases WHERE deployment_id = %s",
                    (deployment_id,),
                )
            ).fetchone()
        return int(row["n"]) if row else 0

    async def switch(
        self,
        *,
        app_id: str,
        owner_id: str,
        version: int,
        instance_id: str,
        socket_path: str,
        host: str,
        reason: str,
        request_id: str,
    ) -> int | None:
        """Point the app's route at an instance; returns the version it replaced.

        Idempotent per ``request_id``: a retried switch changes nothing and
        returns what the first one replaced.
        """
        async with self._db.transaction() as conn:
            await conn.execute(
                "INSERT INTO apps (app_id, owner_id) VALUES (%s, %s) ON CONFLICT DO NOTHING",
                (app_id, owner_id),
            )
            # Row lock: concurrent switches of one app are serialised.
            await conn.execute("SELECT 1 FROM apps WHERE app_id = %s FOR UPDATE", (app_id,))
            done = await (
                await conn.execute(
                    "SELECT from_version FROM route_events WHERE request_id = %s", (request_id,)
                )
            ).fetchone()
            if done is not None:
                return _int_or_none(done["from_version"])
            current = await (
                await conn.execute("SELECT version FROM routes WHERE app_id = %s", (app_id,))
            ).fetchone()
            previous = _int_or_none(current["version"]) if current else None
            await conn.execute(
                "INSERT INTO routes (app_id, version, instance_id, socket_path, host)"
                " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (app_id) DO UPDATE SET"
                " version = EXCLUDED.version, instance_id = EXCLUDED.instance_id,"
                " socket_path = EXCLUDED.socket_path, host = EXCLUDED.host, updated_at = now()",
                (app_id, version, instance_id, socket_path, host),
            )
            await conn.execute(
                "INSERT INTO route_events (app_id, from_version, to_version, reason, request_id)"
                " VALUES (%s, %s, %s, %s, %s)",
                (app_id, previous, version, storable(reason), request_id),
            )
        return previous

    async def clear_route(self, *, app_id: str, reason: str, request_id: str) -> None:
        """Take an app offline (its only release failed after the switch)."""
        async with self._db.transaction() as conn:
            current = await (
                await conn.execute("DELETE FROM routes WHERE app_id = %s RETURNING *", (app_id,))
            ).fetchone()
            await conn.execute(
                "INSERT INTO route_events (app_id, from_version, to_version, reason, request_id)"
                " VALUES (%s, %s, NULL, %s, %s) ON CONFLICT (request_id) DO NOTHING",
                (app_id, current["version"] if current else None, storable(reason), request_id),
            )

    async def route(self, app_id: str) -> Route | None:
        """The app's live route, if it has one."""
        async with self._db.connection() as conn:
            row = await (
                await conn.execute("SELECT * FROM routes WHERE app_id = %s", (app_id,))
            ).fetchone()
        return None if row is None else Route.model_validate(row)

    async def routes_on(self, host: str) -> list[Route]:
        """Every live route served by ``host`` (for reconciliation at worker start)."""
        async with self._db.connection() as conn:
            rows = await (
                await conn.execute("SELECT * FROM routes WHERE host = %s", (host,))
            ).fetchall()
        return [Route.model_validate(r) for r in rows]


def _int_or_none(value: object) -> int | None:
    return None if value is None else int(str(value))

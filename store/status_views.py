"""The status read model: the newest status each workflow published, for the API to read.

The AppWorkflow and each DeploymentWorkflow publish a snapshot of their status at
every change (a local activity), with a sequence number that only grows; a write
whose number is not above the stored one changes nothing, so a retried or late
write never overwrites a newer snapshot. Writes for an app that does not exist (a
workflow started directly for an unknown id) or was deleted are refused: the rows
go with their app and do not come back.
"""

from __future__ import annotations

import json

from psycopg import AsyncConnection
from psycopg.rows import DictRow
from pydantic import BaseModel, ConfigDict

from schemas.deployment import AppStatus, DeploymentStatus
from store.db import Database
from store.rate_limits import AlsoRead
from store.storable_text import storable

_UPSERT_APP = (
    "INSERT INTO app_status_views (app_id, seq, status) VALUES (%s, %s, %s)"
    " ON CONFLICT (app_id) DO UPDATE"
    " SET seq = EXCLUDED.seq, status = EXCLUDED.status, updated_at = now()"
    " WHERE app_status_views.seq < EXCLUDED.seq"
)
_UPSERT_DEPLOYMENT = (
    "INSERT INTO deployment_status_views (app_id, deployment_id, seq, status)"
    " VALUES (%s, %s, %s, %s)"
    " ON CONFLICT (app_id, deployment_id) DO UPDATE"
    " SET seq = EXCLUDED.seq, status = EXCLUDED.status, updated_at = now()"
    " WHERE deployment_status_views.seq < EXCLUDED.seq"
)
# Deployments the app's status no longer lists (it keeps the most recent ones) cannot
# be read through the API any more: their rows go when a newer app status lands.
_PRUNE_DEPLOYMENTS = (
    "DELETE FROM deployment_status_views WHERE app_id = %s AND NOT deployment_id = ANY(%s)"
)


_OWNER_AND_STATUS = (
    "SELECT a.owner_id AS app_owner_id, v.status AS app_status FROM apps a"
    " LEFT JOIN app_status_views v ON v.app_id = a.app_id"
    " WHERE a.app_id = %s AND a.deleted_at IS NULL"
)


def also_owner_and_status(app_id: str | None) -> AlsoRead | None:
    """For ``RateLimiter.counted``: a caller's lookup that also reads an app's owner and
    status, as :meth:`AppRead.from_row` reads them back (None: no app to read)."""
    if app_id is None:
        return None
    return AlsoRead(f" LEFT JOIN LATERAL ({_OWNER_AND_STATUS}) AS also ON true", (app_id,))


class AppRead(BaseModel):
    """An app's owner (None: no such app, or deleted) and newest published status."""

    model_config = ConfigDict(frozen=True)

    app_id: str
    owner_id: str | None
    status: AppStatus | None

    @classmethod
    def from_row(cls, app_id: str, row: DictRow | None) -> AppRead:
        """From a row holding ``_OWNER_AND_STATUS``'s columns (None or NULLs: no app)."""
        if row is None or row["app_owner_id"] is None:
            return cls(app_id=app_id, owner_id=None, status=None)
        owner, stored = row["app_owner_id"], row["app_status"]
        return cls(
            app_id=app_id,
            owner_id=str(owner),
            status=None if stored is None else AppStatus.model_validate_json(stored),
        )


def _json(status: BaseModel) -> str:
    """The snapshot as storable JSON text (a lone surrogate becomes U+FFFD)."""
    return storable(json.dumps(status.model_dump(mode="json"), ensure_ascii=False))


class StatusViews:
    """Write and read the published statuses of apps and deployments."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def record_app(self, status: AppStatus, seq: int) -> bool:
        """Store the app's status unless a newer one is stored; True if this one was."""
        async with self._db.transaction() as conn:
            if not await _app_is_live(conn, status.app_id):
                return False
            cur = await conn.execute(_UPSERT_APP, (status.app_id, seq, _json(status)))
            if cur.rowcount != 1:
                return False
            listed = [d.deployment_id for d in status.deployments]
            await conn.execute(_PRUNE_DEPLOYMENTS, (status.app_id, listed))
        return True

    async def record_deployment(self, status: DeploymentStatus, seq: int) -> bool:
        """Store the deployment's status unless a newer one is stored; True if this one was."""
        async with self._db.transaction() as conn:
            if not await _app_is_live(conn, status.app_id):
                return False
            cur = await conn.execute(
                _UPSERT_DEPLOYMENT, (status.app_id, status.deployment_id, seq, _json(status))
            )
        return cur.rowcount == 1

    async def app(self, app_id: str) -> AppStatus | None:
        """The app's newest published status, or None if it published none."""
        async with self._db.connection() as conn:
            cur = await conn.execute(
                "SELECT status FROM app_status_views WHERE app_id = %s", (app_id,)
            )
            row = await cur.fetchone()
        return None if row is None else AppStatus.model_validate_json(row["status"])

    async def owner_and_app(self, app_id: str) -> AppRead:
        """The app's owner and newest published status, in one round trip (the owner
        check and the status read of one request)."""
        async with self._db.connection() as conn:
            row = await (await conn.execute(_OWNER_AND_STATUS, (app_id,))).fetchone()
        return AppRead.from_row(app_id, row)

    async def deployment(self, app_id: str, deployment_id: str) -> DeploymentStatus | None:
        """The deployment's newest published status, or None if it published none."""
        async with self._db.connection() as conn:
            row = await (
                await conn.execute(
                    "SELECT status FROM deployment_status_views"
                    " WHERE app_id = %s AND deployment_id = %s",
                    (app_id, deployment_id),
                )
            ).fetchone()
        return None if row is None else DeploymentStatus.model_validate_json(row["status"])


async def forget_app(conn: AsyncConnection[DictRow], app_id: str) -> None:
    """Delete the app's status rows (in the caller's transaction: the app's deletion)."""
    await conn.execute("DELETE FROM deployment_status_views WHERE app_id = %s", (app_id,))
    await conn.execute("DELETE FROM app_status_views WHERE app_id = %s", (app_id,))


async def _app_is_live(conn: AsyncConnection[DictRow], app_id: str) -> bool:
    """Whether the app exists and is not deleted, holding its row until the write commits
    (FOR SHARE): a deletion running beside the write waits for it, then removes its rows."""
    row = await (
        await conn.execute(
            "SELECT 1 FROM apps WHERE app_id = %s AND deleted_at IS NULL FOR SHARE", (app_id,)
        )
    ).fetchone()
    return row is not None

"""Apps and their owners."""

from __future__ import annotations

from schemas.audit import Actor, AuditAction, AuditEvent, AuditOutcome
from store.audit import AuditLog
from store.db import Database
from store.status_views import forget_app


class AppOwnedByAnother(LookupError):
    """The app id belongs to another owner (callers answer 'not found')."""


class AppRepository:
    """Create apps and check who owns them."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def ensure(self, app_id: str, owner_id: str) -> None:
        """Create the app for ``owner_id``, or check that it is theirs."""
        async with self._db.connection() as conn:
            await conn.execute(
                "INSERT INTO apps (app_id, owner_id) VALUES (%s, %s) ON CONFLICT DO NOTHING",
                (app_id, owner_id),
            )
            row = await (
                await conn.execute(
                    "SELECT owner_id, deleted_at FROM apps WHERE app_id = %s", (app_id,)
                )
            ).fetchone()
        # A deleted app's id is never reused: its releases and evidence still name it.
        if row is None or row["owner_id"] != owner_id or row["deleted_at"] is not None:
            raise AppOwnedByAnother(app_id)

    async def owner(self, app_id: str) -> str | None:
        """The app's owner, or None if there is no such app (or it was deleted)."""
        async with self._db.connection() as conn:
            row = await (
                await conn.execute(
                    "SELECT owner_id FROM apps WHERE app_id = %s AND deleted_at IS NULL",
                    (app_id,),
                )
            ).fetchone()
        return None if row is None else str(row["owner_id"])

    async def list_for(self, owner_id: str) -> list[str]:
        """App ids owned by ``owner_id``."""
        async with self._db.connection() as conn:
            rows = await (
                await conn.execute(
                    "SELECT app_id FROM apps WHERE owner_id = %s AND deleted_at IS NULL"
                    " ORDER BY app_id",
                    (owner_id,),
                )
            ).fetchall()
        return [str(r["app_id"]) for r in rows]

    async def taken(self, app_id: str) -> bool:
        """Whether the id was ever used (deleted apps' ids included)."""
        async with self._db.connection() as conn:
            row = await (
                await conn.execute("SELECT 1 FROM apps WHERE app_id = %s", (app_id,))
            ).fetchone()
        return row is not None

    async def delete(self, app_id: str, actor: Actor, audit: AuditLog) -> bool:
        """Mark the caller's app deleted and destroy its secrets' ciphertexts, audited in
        the same transaction; False if it is not theirs (or already deleted)."""
        async with self._db.transaction() as conn:
            cur = await conn.execute(
                "UPDATE apps SET deleted_at = now()"
                " WHERE app_id = %s AND owner_id = %s AND deleted_at IS NULL",
                (app_id, actor.user_id),
            )
            if cur.rowcount != 1:
                return False
            await forget_app(conn, app_id)
            destroyed = await conn.execute(
                "UPDATE secrets SET ciphertext = NULL, deleted_at = now()"
                " WHERE app_id = %s AND deleted_at IS NULL",
                (app_id,),
            )
            await audit.append(
                conn,
                AuditEvent(
                    actor=actor,
                    action=AuditAction.APP_DELETE,
                    resource=f"app:{app_id}",
                    outcome=AuditOutcome.OK,
                    detail={"secret_versions_destroyed": destroyed.rowcount},
                ),
            )
        return True

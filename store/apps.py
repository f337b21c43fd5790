"""Apps and their owners."""

from __future__ import annotations

from store.db import Database


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
                await conn.execute("SELECT owner_id FROM apps WHERE app_id = %s", (app_id,))
            ).fetchone()
        if row is None or row["owner_id"] != owner_id:
            raise AppOwnedByAnother(app_id)

    async def owner(self, app_id: str) -> str | None:
        """The app's owner, or None if there is no such app."""
        async with self._db.connection() as conn:
            row = await (
                await conn.execute("SELECT owner_id FROM apps WHERE app_id = %s", (app_id,))
            ).fetchone()
        return None if row is None else str(row["owner_id"])

    async def list_for(self, owner_id: str) -> list[str]:
        """App ids owned by ``owner_id``."""
        async with self._db.connection() as conn:
            rows = await (
                await conn.execute(
                    "SELECT app_id FROM apps WHERE owner_id = %s ORDER BY app_id", (owner_id,)
                )
            ).fetchall()
        return [str(r["app_id"]) for r in rows]

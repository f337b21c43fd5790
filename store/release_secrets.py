"""Which secret versions each release was deployed with (no values: names and numbers)."""

from __future__ import annotations

import json

from store.db import Database


class ReleaseSecrets:
    """Pins recorded at a release's first start, read back by rollbacks and restarts."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def pinned(self, app_id: str, version: int) -> dict[str, int] | None:
        """The versions the release first started with, or None if it never started."""
        async with self._db.connection() as conn:
            row = await (
                await conn.execute(
                    "SELECT secrets FROM release_secret_versions"
                    " WHERE app_id = %s AND version = %s",
                    (app_id, version),
                )
            ).fetchone()
        return None if row is None else {str(k): int(v) for k, v in row["secrets"].items()}

    async def record(self, app_id: str, version: int, versions: dict[str, int]) -> None:
        """Pin once: the first start wins (a retried or repeated start changes nothing)."""
        async with self._db.connection() as conn:
            await conn.execute(
                "INSERT INTO release_secret_versions (app_id, version, secrets)"
                " VALUES (%s, %s, %s) ON CONFLICT (app_id, version) DO NOTHING",
                (app_id, version, json.dumps(versions)),
            )

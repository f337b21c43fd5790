"""Where the front gateway reaches each runtime host's gateway (``host_gateways``)."""

from __future__ import annotations

from store.db import Database


class HostGatewayRegistry:
    """Host gateways register their URL at start and withdraw it at stop."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def register(self, host: str, url: str) -> None:
        """Record (or replace) ``host``'s gateway URL."""
        async with self._db.connection() as conn:
            await conn.execute(
                "INSERT INTO host_gateways (host, url) VALUES (%s, %s) ON CONFLICT (host)"
                " DO UPDATE SET url = EXCLUDED.url, updated_at = now()",
                (host, url),
            )

    async def withdraw(self, host: str, url: str) -> None:
        """Remove ``host``'s registration if it is still ``url`` (a newer one stays)."""
        async with self._db.connection() as conn:
            await conn.execute(
                "DELETE FROM host_gateways WHERE host = %s AND url = %s", (host, url)
            )

    async def url(self, host: str) -> str | None:
        """``host``'s gateway URL, None when it registered none."""
        async with self._db.connection() as conn:
            row = await (
                await conn.execute("SELECT url FROM host_gateways WHERE host = %s", (host,))
            ).fetchone()
        return None if row is None else str(row["url"])

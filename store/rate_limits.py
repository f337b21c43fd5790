"""Request rate limits shared by every API process (fixed windows in PostgreSQL).

One atomic upsert per request counts it and returns the count, so N processes
and any number of concurrent requests never let more than ``limit`` through in
a window. Old windows are pruned now and then by whoever is counting.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from psycopg import AsyncConnection
from psycopg.rows import DictRow

from store.db import Database

# Count one hit of (key, window): a single atomic upsert.
COUNT_HIT = (
    "INSERT INTO rate_limits (key, window_start, hits) VALUES (%s, %s, 1)"
    " ON CONFLICT (key, window_start) DO UPDATE SET hits = rate_limits.hits + 1"
)


def counting(found: str) -> str:
    """``found`` (a SELECT of one row with a ``user_id`` column) that also counts a hit
    of ``user:<user_id>`` in the window given as the statement's last parameter; the
    row gains a ``hits`` column. One round trip for a lookup and its rate limit."""
    return (
        f"WITH found AS ({found}), hit AS ("  # noqa: S608 - constant SQL, bound values
        "INSERT INTO rate_limits (key, window_start, hits)"
        " SELECT 'user:' || user_id, %s, 1 FROM found"
        " ON CONFLICT (key, window_start) DO UPDATE SET hits = rate_limits.hits + 1"
        " RETURNING hits) SELECT found.*, (SELECT hits FROM hit) AS hits FROM found"
    )


@dataclass(frozen=True)
class Window:
    """A rate-limit window: where it starts, and how long until the next one."""

    start: datetime
    retry_after_s: int


@dataclass(frozen=True)
class Verdict:
    """Whether a request may proceed, and when the caller may retry if not."""

    allowed: bool
    count: int
    limit: int
    retry_after_s: int


class RateLimiter:
    """``limit`` requests per ``window_s`` seconds per key (a user, or an IP before login)."""

    def __init__(
        self,
        db: Database,
        *,
        limit: int,
        window_s: int = 60,
        clock: Callable[[], float] = time.time,
        prune_probability: float = 0.01,
    ) -> None:
        if limit < 1 or window_s < 1:
            raise ValueError("limit and window_s must be positive")
        self._db = db
        self.limit = limit
        self.window_s = window_s
        self._clock = clock
        self._prune_probability = prune_probability

    def window(self) -> Window:
        """The window a request made now counts in."""
        now = self._clock()
        start = math.floor(now / self.window_s) * self.window_s
        return Window(
            datetime.fromtimestamp(start, UTC), max(1, math.ceil(start + self.window_s - now))
        )

    def verdict(self, window: Window, count: int) -> Verdict:
        """Whether the ``count``-th request of ``window`` may proceed."""
        return Verdict(count <= self.limit, count, self.limit, window.retry_after_s)

    async def prune_sometimes(self, conn: AsyncConnection[DictRow], window: Window) -> None:
        """Now and then, drop windows that ended (whoever is counting does it)."""
        if random.random() < self._prune_probability:  # noqa: S311 - not security
            await conn.execute(
                "DELETE FROM rate_limits WHERE window_start < %s",
                (window.start - timedelta(seconds=self.window_s),),
            )

    async def hit(self, key: str) -> Verdict:
        """Count one request for ``key`` in the current window."""
        window = self.window()
        async with self._db.connection() as conn:
            row = await (
                await conn.execute(COUNT_HIT + " RETURNING hits", (key, window.start))
            ).fetchone()
            await self.prune_sometimes(conn, window)
        return self.verdict(window, int(row["hits"]) if row else 1)

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
from datetime import UTC, datetime

from store.db import Database


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

    async def hit(self, key: str) -> Verdict:
        """Count one request for ``key`` in the current window."""
        now = self._clock()
        start = math.floor(now / self.window_s) * self.window_s
        window = datetime.fromtimestamp(start, UTC)
        async with self._db.connection() as conn:
            row = await (
                await conn.execute(
                    "INSERT INTO rate_limits (key, window_start, hits) VALUES (%s, %s, 1)"
                    " ON CONFLICT (key, window_start)"
                    " DO UPDATE SET hits = rate_limits.hits + 1 RETURNING hits",
                    (key, window),
                )
            ).fetchone()
            if random.random() < self._prune_probability:  # noqa: S311 - not security
                await conn.execute(
                    "DELETE FROM rate_limits WHERE window_start < %s",
                    (datetime.fromtimestamp(start - self.window_s, UTC),),
                )
        count = int(row["hits"]) if row else 1
        retry = max(1, math.ceil(start + self.window_s - now))
        return Verdict(count <= self.limit, count, self.limit, retry)

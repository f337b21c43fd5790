"""Request rate limits shared by every API process (sliding windows in PostgreSQL).

A request is admitted when fewer than ``limit`` requests of its key were admitted
in the ``window_s`` seconds before it, so no span of ``window_s`` seconds ever
admits more than ``limit`` (a fixed window lets twice that through across its
boundary). One call of ``rate_limit_hit`` (migration 0020) decides and records a
request under the key's row lock, so N processes and any number of concurrent
requests never exceed the limit. A key keeps one (latest time, count) pair per
second of requests, a bounded row whatever the limit: a second's requests count
until its latest one leaves the window, so a refusal may come up to a second early,
an admission never. Idle keys are pruned once per window by each API process.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import DictRow

from store.db import Database

HIT = "SELECT allowed, retry_after, first_refusal FROM rate_limit_hit(%s, %s, %s, %s)"


@dataclass(frozen=True)
class AlsoRead:
    """A read joined onto a counted lookup: a ``LEFT JOIN LATERAL (...) AS also ON true``
    whose columns join the row, and its parameters."""

    sql: str
    params: tuple[object, ...]


def counting(found: str, also: str = "") -> str:
    """``found`` (a SELECT of at most one row with a ``user_id`` column) that also
    counts a request of ``user:<user_id>``; the statement's last parameters are
    :meth:`RateLimiter.params` (then ``also``'s), and the row gains the columns
    :meth:`RateLimiter.read` turns into a verdict. One round trip for a lookup and its
    rate limit (and ``also``, an ``AlsoRead.sql``)."""
    return (
        f"WITH found AS ({found}) SELECT found.*,"  # noqa: S608 - constant SQL, bound values
        " hit.allowed, hit.retry_after, hit.first_refusal"
        + (", also.*" if also else "")
        + " FROM found, LATERAL rate_limit_hit('user:' || found.user_id, %s, %s, %s) AS hit"
        + also
    )


@dataclass(frozen=True)
class Verdict:
    """Whether a request may proceed, and when the caller may retry if not."""

    allowed: bool
    limit: int
    retry_after_s: int
    first_refusal: bool = False  # the key's first refusal in this window (audited)


class RateLimiter:
    """``limit`` requests per ``window_s`` seconds per key (a user, or an IP before login),
    over a sliding window."""

    def __init__(
        self,
        db: Database,
        *,
        limit: int,
        window_s: int = 60,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if limit < 1 or window_s < 1:
            raise ValueError("limit and window_s must be positive")
        self._db = db
        self.limit = limit
        self.window_s = window_s
        self._clock = clock
        self._pruned_at = -math.inf

    def params(self) -> tuple[float, float, int]:
        """The parameters a counting statement ends with: now, the window, the limit."""
        return self._clock(), float(self.window_s), self.limit

    def read(self, row: dict[str, Any]) -> Verdict:
        """The verdict in a row returned by ``HIT`` or a :func:`counting` statement."""
        allowed = bool(row["allowed"])
        return Verdict(
            allowed=allowed,
            limit=self.limit,
            retry_after_s=0 if allowed else self._retry_after(float(row["retry_after"])),
            first_refusal=bool(row["first_refusal"]),
        )

    def _retry_after(self, seconds: float) -> int:
        """Whole seconds, 1 to the window: a request stamped by an API process whose
        clock runs a little ahead may sit later in the window than this one's now."""
        return min(self.window_s, max(1, math.ceil(seconds)))

    async def counted(
        self,
        conn: AsyncConnection[DictRow],
        found: str,
        params: tuple[object, ...],
        also: AlsoRead | None = None,
    ) -> DictRow | None:
        """``found``'s row (its ``params``) with the request counted, and ``also`` read, in
        one statement (see :func:`counting`); None when ``found`` finds nothing."""
        row = await (
            await conn.execute(
                counting(found, also.sql if also is not None else ""),
                (*params, *self.params(), *(also.params if also is not None else ())),
            )
        ).fetchone()
        await self.prune_sometimes(conn)
        return row

    async def prune_sometimes(self, conn: AsyncConnection[DictRow]) -> None:
        """Once per window (per process), drop keys with no request in the last window
        (whoever is counting then does it: a scan of the table, which has no index on
        ``touched_at`` so that counting updates stay HOT, migration 0025)."""
        now = self._clock()
        if now - self._pruned_at >= self.window_s:
            self._pruned_at = now
            await conn.execute(
                "DELETE FROM rate_limits WHERE touched_at < %s", (now - self.window_s,)
            )

    async def hit(self, key: str) -> Verdict:
        """Count one request for ``key`` now."""
        async with self._db.connection() as conn:
            row = await (await conn.execute(HIT, (key, *self.params()))).fetchone()
            await self.prune_sometimes(conn)
        assert row is not None  # the function always returns its one row
        return self.read(row)

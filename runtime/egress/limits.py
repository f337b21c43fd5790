"""Per-app budgets of the egress proxy: new connections per minute, open connections,
bytes per hour (both directions), each over a sliding window."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

from schemas.egress import EgressLimits, RefusalReason

Clock = Callable[[], float]

_MINUTE = 60.0
_HOUR = 3600.0
_BYTE_BUCKET_S = 60.0


class AppBudget:
    """One app's budget. Not thread-safe: the proxy's event loop is its only user."""

    def __init__(self, limits: EgressLimits, clock: Clock = time.monotonic) -> None:
        self.limits = limits
        self._clock = clock
        self._starts: deque[float] = deque()
        self._bytes: deque[tuple[float, int]] = deque()  # (bucket start, bytes)
        self._bytes_total = 0
        self.open = 0

    def _expire(self, now: float) -> None:
        while self._starts and self._starts[0] <= now - _MINUTE:
            self._starts.popleft()
        while self._bytes and self._bytes[0][0] <= now - _HOUR:
            self._bytes_total -= self._bytes.popleft()[1]

    def admit(self) -> RefusalReason | None:
        """Count a new connection, or say which budget refuses it (then nothing is counted)."""
        now = self._clock()
        self._expire(now)
        if len(self._starts) >= self.limits.connections_per_minute:
            return RefusalReason.RATE_LIMITED
        if self.open >= self.limits.max_concurrent:
            return RefusalReason.RATE_LIMITED
        if self._bytes_total >= self.limits.bytes_per_hour:
            return RefusalReason.BYTE_LIMIT
        self._starts.append(now)
        self.open += 1
        return None

    def release(self) -> None:
        """A connection admitted by :meth:`admit` ended."""
        self.open = max(0, self.open - 1)

    def charge(self, count: int) -> bool:
        """Add ``count`` bytes; False once the hour's budget is spent (the caller cuts)."""
        now = self._clock()
        self._expire(now)
        if self._bytes and self._bytes[-1][0] > now - _BYTE_BUCKET_S:
            start, total = self._bytes[-1]
            self._bytes[-1] = (start, total + count)
        else:
            self._bytes.append((now, count))
        self._bytes_total += count
        return self._bytes_total <= self.limits.bytes_per_hour

    def update(self, limits: EgressLimits) -> None:
        """New limits (a new release, a reloaded configuration); the counts carry over."""
        self.limits = limits

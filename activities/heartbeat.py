"""Heartbeating while an activity waits on something that reports no progress itself."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from temporalio import activity


@contextlib.asynccontextmanager
async def keep_alive(note: str, *, every_s: float = 5.0) -> AsyncIterator[None]:
    """Heartbeat ``note`` every ``every_s`` seconds until the block ends.

    A dead worker stops heartbeating, so Temporal retries the activity on
    another worker after the (short) heartbeat timeout instead of waiting
    for the (long) start-to-close timeout.
    """

    async def beat() -> None:
        while True:
            activity.heartbeat(note)
            await asyncio.sleep(every_s)

    task = asyncio.create_task(beat())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

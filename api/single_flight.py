"""Coalescing identical concurrent reads: one in-flight call per key, shared by every
caller that asks while it runs.

A workflow answers queries one at a time, so a hundred clients polling one app's
status would queue a hundred queries behind each other. With this, the ones that
arrive while a query is running share its answer, which is never older than the
query itself: there is no cache and no expiry to tune.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class SingleFlight(Generic[K, V]):
    """``await run(key, call)``: joins the running call for ``key``, or starts one."""

    def __init__(self) -> None:
        self._running: dict[K, asyncio.Future[V]] = {}

    async def run(self, key: K, call: Callable[[], Awaitable[V]]) -> V:
        """The result (or the exception) of the one call in flight for ``key``."""
        running = self._running.get(key)
        if running is not None:
            return await asyncio.shield(running)
        future: asyncio.Future[V] = asyncio.get_running_loop().create_future()
        self._running[key] = future
        try:
            result = await call()
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: joiners re-raise it, nobody logs it as lost
            raise
        else:
            future.set_result(result)
            return result
        finally:
            del self._running[key]

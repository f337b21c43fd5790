"""This worker's runtime host in the registry: registered with its capacity at start,
then reported alive every ``MB_HOST_HEARTBEAT_S`` (a draining host with nothing left
on it becomes drained on its own heartbeat)."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from schemas.hosts import HostCapacity
from store.runtime_hosts import RuntimeHosts

log = logging.getLogger(__name__)


class HostHeartbeat:
    """Registers one runtime host and keeps its heartbeat fresh."""

    def __init__(
        self, hosts: RuntimeHosts, name: str, capacity: HostCapacity, every_s: float
    ) -> None:
        self._hosts = hosts
        self.name = name
        self._capacity = capacity
        self._every_s = every_s

    async def register(self) -> None:
        """Add the host (or refresh its capacity); its drain state is kept."""
        await self._hosts.register(self.name, self._capacity)
        log.info(
            "runtime host %s registered: %d apps, %d MiB",
            self.name,
            self._capacity.max_apps,
            self._capacity.memory_mib,
        )

    async def beat(self) -> None:
        """One heartbeat; registers again if the row went missing (e.g. a restore)."""
        if await self._hosts.heartbeat(self.name) is None:
            await self.register()

    async def run_forever(self, stop: asyncio.Event) -> None:
        """Beat until ``stop``; a failed beat (e.g. a database outage) is logged and the
        next one tried: a loop that died would make a healthy host look dead."""
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self._every_s)
                return
            try:
                await self.beat()
            except Exception:
                log.exception("heartbeat of runtime host %s failed", self.name)

"""A runtime host's egress upkeep, every ``MB_RECONCILE_EVERY_S``: its proxy kept running,
its decision log moved into PostgreSQL, operators' decisions applied to running
instances, and instances that no longer run detached."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from pathlib import Path

from runtime.base import Runtime
from runtime.egress.registry import EgressRegistry
from runtime.egress.supervisor import EgressProxyProcess
from store.egress import EgressRecords

log = logging.getLogger(__name__)


@dataclass
class EgressUpkeep:
    """Everything one pass needs; each step is independent (one failing skips only it)."""

    proxy: EgressProxyProcess
    registry: EgressRegistry
    records: EgressRecords
    runtime: Runtime
    host: str
    decision_log: Path

    async def once(self) -> None:
        """One pass of every step."""
        steps = (
            ("start the proxy", self.proxy.ensure_running()),
            ("store decisions", self.records.ingest(self.host, self.decision_log)),
            ("detach stopped instances", self._retain()),
            ("apply decisions", self.registry.refresh_all()),
        )
        for what, step in steps:
            try:
                await step
            except Exception:
                log.exception("egress upkeep: could not %s", what)

    async def _retain(self) -> None:
        running = [
            info.instance_id
            for info in await self.runtime.instances()
            if await self.runtime.state(info.instance_id) == "running"
        ]
        gone = await self.registry.retain(running)
        if gone:
            log.info("egress: detached instances no longer running: %s", ", ".join(gone))

    async def run_forever(self, every_s: float, stop: asyncio.Event) -> None:
        """A pass every ``every_s`` until ``stop`` is set."""
        while not stop.is_set():
            await self.once()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=every_s)

"""The cost of placement: one ``place()`` (lock, every host's load, the choice, the
placement row) against the gateway's per-request route read, on one embedded
PostgreSQL with 20 registered hosts and 400 live apps; and placements per second
with 8 concurrent callers (the lock serialises them) against 8 concurrent route reads.

Both sides run interleaved over several rounds in this process; the best round of
each is kept.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from activities.placement import choose_host
from bench import scratch_database
from schemas.hosts import HostCapacity
from store.db import Database
from store.releases import ReleaseRepository
from store.runtime_hosts import RuntimeHosts

HOSTS = 20
APPS = 400
CALLS = 200
ROUNDS = 3


async def _rate(call: Callable[[int], Awaitable[object]], concurrency: int) -> float:
    """Calls per second with ``concurrency`` callers."""

    async def caller(first: int) -> None:
        for i in range(first, CALLS, concurrency):
            await call(i)

    started = time.perf_counter()
    await asyncio.gather(*(caller(c) for c in range(concurrency)))
    return CALLS / (time.perf_counter() - started)


async def _populate(db: Database) -> None:
    hosts = RuntimeHosts(db)
    for h in range(HOSTS):
        await hosts.register(
            f"host-{h:02d}", HostCapacity(max_apps=50, memory_mib=32768, app_memory_mib=512)
        )
    releases = ReleaseRepository(db)
    for a in range(APPS):
        await releases.switch(
            app_id=f"app-{a:04d}",
            owner_id="bench",
            version=1,
            instance_id=f"app-{a:04d}-v1",
            socket_path=f"/run/app-{a:04d}.sock",
            host=f"host-{a % HOSTS:02d}",
            reason="bench",
            request_id=f"bench-{a:04d}",
        )


async def main() -> None:
    async with scratch_database("mb-bench-placement-") as db:
        await _populate(db)
        hosts, releases = RuntimeHosts(db), ReleaseRepository(db)

        async def place(i: int) -> object:
            return await hosts.place(f"app-{i % APPS:04d}", choose_host, dead_after_s=15)

        async def read_route(i: int) -> object:
            return await releases.route(f"app-{i % APPS:04d}")

        figures: dict[str, float] = {}
        for concurrency in (1, 8):
            placed: list[float] = []
            read: list[float] = []
            for _ in range(ROUNDS):
                read.append(await _rate(read_route, concurrency))
                placed.append(await _rate(place, concurrency))
            best_place, best_read = max(placed), max(read)
            print(
                f"concurrency {concurrency}: placements {best_place:7.0f}/s,"
                f" route reads {best_read:7.0f}/s",
                flush=True,
            )
            figures[f"placement_c{concurrency}_per_s"] = best_place
            figures[f"placement_c{concurrency}_cost_vs_route_read"] = best_read / best_place
    for name, value in figures.items():
        print(f"{name}: {value:.1f}" if name.endswith("per_s") else f"{name}: {value:.2f}")


if __name__ == "__main__":
    asyncio.run(main())

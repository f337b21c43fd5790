"""The cost of the second hop: the front gateway through a host gateway (mutual TLS on
loopback) against the front gateway straight to the app's unix socket, in one run.

    .venv/bin/python -m bench.gateway_hop [--requests 300] [--rounds 3]

One process: embedded PostgreSQL, an app on a unix socket, a real host gateway
(TLS 1.3, client certificates) on 127.0.0.3, the front gateway in process. The
same app is live twice: on the front gateway's own host (straight to the socket,
the baseline) and on the host gateway's host. Sequential GETs over keep-alive
connections, the two sides interleaved ``--rounds`` times; the best median of
each side counts. The ratio is two-hop latency over direct latency.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from store.db import Database
from store.embedded import EmbeddedPostgres
from tests.api.host_gateways import HOST, TwoHosts, two_hosts


async def _median_ms(hosts: TwoHosts, app_id: str, requests: int) -> float:
    times = []
    for _ in range(requests):
        started = time.perf_counter()
        response = await hosts.front.get(f"/apps/{app_id}/x")
        times.append((time.perf_counter() - started) * 1000)
        if response.status_code != 201:
            raise SystemExit(f"{app_id}: {response.status_code} {response.text[:200]}")
    return statistics.median(times)


async def main(requests: int, rounds: int) -> None:
    """Measure both sides and print the figures."""
    root = Path(tempfile.mkdtemp(prefix="mb-bench-hop-"))
    root.chmod(0o755)  # the embedded server's own user traverses it
    server = EmbeddedPostgres(root / "pg")
    try:
        db = Database(await server.start(), max_size=4)
        await db.open()
        await db.migrate()
        try:
            async with two_hosts(db) as hosts:
                await hosts.route("direct", "front")
                await hosts.route("two-hop", HOST)
                direct, two_hop = [], []
                for _ in range(rounds):
                    direct.append(await _median_ms(hosts, "direct", requests))
                    two_hop.append(await _median_ms(hosts, "two-hop", requests))
        finally:
            await db.close()
    finally:
        await server.stop()
        shutil.rmtree(root, ignore_errors=True)
    best_direct, best_two_hop = min(direct), min(two_hop)
    print(f"gateway_direct_ms_p50: {best_direct:.2f}")
    print(f"gateway_two_hop_ms_p50: {best_two_hop:.2f}")
    print(f"gateway_hop_cost_ratio: {best_two_hop / best_direct:.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(main(args.requests, args.rounds))

"""Recovery from a lost runtime host across network namespaces, with the default
heartbeat settings (``MB_HOST_HEARTBEAT_S=5``, ``MB_HOST_DEAD_AFTER_S=15``,
``MB_HOST_LOSS_CHECK_S=2``).

The scenario of ``tests/integration/test_hosts_in_namespaces.py``, reusing its
helpers: three hosts, each in a namespace of its own, one app on each; the first
host drained while every app is polled (the planned move, the baseline), then
undrained; the busiest host's worker and host gateway SIGKILLed. Reported: seconds of
the drain, seconds from the kill until every app of the lost host answers 200 through
the front gateway again (goal under 30 s), their ratio, and the recovery time beyond
the silence the detector must wait out. Takes a few minutes (three QA gates). Needs
root (namespaces); traffic stays on this machine.

    .venv/bin/python -m bench.host_recovery_netns
"""

from __future__ import annotations

import asyncio

from schemas.settings import Settings
from tests.integration.netns_hosts import running_cluster
from tests.integration.second_host import drain_while_polling
from tests.integration.test_hosts_in_namespaces import APPS, HOSTS, deploy_apps, kill_busiest_host


async def main() -> None:
    dead_after_s = Settings().host_dead_after_s
    async with running_cluster(HOSTS, APPS) as cluster:
        await deploy_apps(cluster.stack)
        done, drain_s, statuses = await drain_while_polling(cluster.stack, HOSTS[0], APPS)
        assert done.returncode == 0, done.stdout + done.stderr
        assert cluster.stack.mb("hosts", "undrain", HOSTS[0]).returncode == 0
        _, stale, recovery_s = await kill_busiest_host(cluster)
    print(f"netns_drain_failed_requests: {sum(s != 200 for s in statuses)}")
    print(f"netns_host_drain_s: {drain_s:.1f}")
    print(f"netns_host_recovery_s: {recovery_s:.1f}")
    print(f"netns_host_recovery_apps: {len(stale)}")
    print(f"netns_host_recovery_beyond_dead_after_s: {recovery_s - dead_after_s:.1f}")
    print(f"netns_host_recovery_over_drain_ratio: {recovery_s / drain_s:.2f}")


if __name__ == "__main__":
    asyncio.run(main())

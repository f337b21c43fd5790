"""Recovery from a lost runtime host, with the default heartbeat settings
(``MB_HOST_HEARTBEAT_S=5``, ``MB_HOST_DEAD_AFTER_S=15``, ``MB_HOST_LOSS_CHECK_S=2``).

The integration scenario of ``tests/integration/test_host_loss.py``, reusing its
helpers: two apps deployed on the first host and moved to a second one (``mb hosts
drain``: the planned move, the baseline), then the second host's worker and host
gateway SIGKILLed; reported: seconds from the kill until every app answers 200
through the front gateway again (goal under 30 s), the drain's seconds measured in
the same run, their ratio, and the recovery time beyond the silence the detector must
wait out. Takes a few minutes (two QA gates). Loopback only.

    .venv/bin/python -m bench.host_recovery
"""

from __future__ import annotations

import asyncio
import time

from schemas.settings import Settings
from tests.integration.conftest import running_stack
from tests.integration.second_host import LIGHT_QA, second_host
from tests.integration.test_host_loss import (
    deploy_on_first_host,
    kill_and_time_recovery,
    move_to_second_host,
)
from workers.wiring import sandbox_runtime


async def main() -> None:
    dead_after_s = Settings().host_dead_after_s
    async with running_stack(worker_env=LIGHT_QA) as stack:
        await deploy_on_first_host(stack)
        with second_host(stack) as host_b:
            started = time.monotonic()
            await move_to_second_host(stack)
            drain_s = time.monotonic() - started
            recovery_s = await kill_and_time_recovery(stack, host_b)
            # Its stale instances outlive the killed worker (no worker returns to fence them).
            await sandbox_runtime(host_b.settings).stop_all(drain_s=0)
    print(f"host_drain_s: {drain_s:.1f}")
    print(f"host_recovery_s: {recovery_s:.1f}")
    print(f"host_recovery_beyond_dead_after_s: {recovery_s - dead_after_s:.1f}")
    print(f"host_recovery_over_drain_ratio: {recovery_s / drain_s:.2f}")


if __name__ == "__main__":
    asyncio.run(main())

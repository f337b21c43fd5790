"""A lost runtime host is recovered (two ``mb worker --runtime-host`` processes on this
machine, the second with its own ``mb host-gateway``): two apps moved onto the second
host by a drain of the first; the second host's worker and gateway are SIGKILLed (its
sandboxes, in sessions of their own, outlive the worker, as a partitioned machine's
apps would); every app answers again through the front gateway from the first host,
with a ``host_lost`` incident each; the killed worker comes back, stops the stale
instances before it heartbeats (fenced) and routes none of them; its host stays lost."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from pipeline.operations import app_status
from store.releases import ReleaseRepository
from store.runtime_hosts import RuntimeHosts
from tests.integration.conftest import Stack, running_stack
from tests.integration.second_host import (
    HOST_A,
    HOST_B,
    LIGHT_QA,
    SecondHost,
    answering,
    assert_host_lost_incident,
    fenced_incidents,
    live_hosts,
    second_host,
)
from workers.wiring import sandbox_runtime

pytestmark = [pytest.mark.integration, pytest.mark.timeout(3000)]

APPS = {"lost-guestbook": "a guestbook for our wedding", "lost-tips": "a tip calculator"}


@pytest.fixture(scope="module")
async def stack() -> AsyncIterator[Stack]:
    async with running_stack(worker_env=LIGHT_QA) as stack:
        yield stack


async def deploy_on_first_host(stack: Stack) -> None:
    """Deploy ``APPS`` while only the first host is registered."""
    deployments = {app: (await stack.deploy(app, prompt))[0] for app, prompt in APPS.items()}
    for app_id, deployment in deployments.items():
        await stack.outcome(app_id, deployment, within=1800)


async def move_to_second_host(stack: Stack) -> dict[str, str]:
    """Drain the first host (its apps move to the second), then undrain it so it can take
    them back; returns each app's instance on the second."""
    await live_hosts(stack)
    drained = await asyncio.to_thread(
        stack.mb, "hosts", "drain", HOST_A, "--timeout", "600", timeout=700
    )
    assert drained.returncode == 0, drained.stdout + drained.stderr
    assert stack.mb("hosts", "undrain", HOST_A).returncode == 0
    on_b = {}
    for app_id in APPS:
        status = await app_status(stack.client, app_id)
        assert status.live is not None and status.live.host == HOST_B
        on_b[app_id] = status.live.instance_id
        assert (await stack.apps.get(f"/apps/{app_id}/")).status_code == 200
    return on_b


async def kill_and_time_recovery(stack: Stack, host_b: SecondHost, within: float = 300) -> float:
    """SIGKILL the second host (worker and gateway); seconds until every app answers 200
    through the front gateway again."""
    host_b.kill("worker")
    host_b.kill("host-gateway")
    return await answering(stack, APPS, within)


async def test_a_killed_hosts_apps_come_back_on_the_other_and_it_is_fenced(
    stack: Stack,
) -> None:
    await deploy_on_first_host(stack)
    with second_host(stack) as host_b:
        on_b = await move_to_second_host(stack)
        seconds = await kill_and_time_recovery(stack, host_b)
        print(f"host_recovery_s: {seconds:.1f}")

        hosts = RuntimeHosts(stack.db)
        lost_b = await hosts.host(HOST_B, 15)
        assert lost_b is not None and lost_b.state == "lost"
        releases = ReleaseRepository(stack.db)
        for app_id, old in on_b.items():
            route = await releases.route(app_id)
            assert route is not None and route.host == HOST_A and route.instance_id != old
            status = await app_status(stack.client, app_id)
            moved = status.refreshes[-1]
            assert moved.ok and f"moved off the lost host {HOST_B}" in moved.message
            await assert_host_lost_incident(stack, app_id, HOST_B)

        runtime_b = sandbox_runtime(host_b.settings)
        for old in on_b.values():  # unreachable, still running: fencing's work
            assert await runtime_b.state(old) == "running"

        # The killed host returns: its first reconciliation, before its first heartbeat,
        # stops the stale instances; none is routed there again.
        host_b.start("worker")
        for _ in range(600):
            view = await hosts.host(HOST_B, 15)
            if view is not None and view.live:
                break
            await asyncio.sleep(0.25)
        else:
            raise AssertionError("the returning host never heartbeat")
        assert view.state == "lost"  # until an operator undrains it
        for app_id, old in on_b.items():
            assert await runtime_b.state(old) != "running"
            route = await releases.route(app_id)
            assert route is not None and route.host == HOST_A
            assert (await stack.apps.get(f"/apps/{app_id}/")).status_code == 200
            fenced = await fenced_incidents(stack, app_id)
            assert len(fenced) == 1 and HOST_A in fenced[0].reason
        listed = stack.mb("hosts")
        assert "lost" in listed.stdout, listed.stdout
        await runtime_b.stop_all(drain_s=0)

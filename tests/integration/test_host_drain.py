"""Two runtime hosts on this machine (two ``mb worker --runtime-host`` processes, each
with its own data directory; the second serves its apps through its own ``mb
host-gateway``, as a second machine would): an app deployed on the first moves to the
second when ``mb hosts drain`` drains the first, while a client polls it through the
front gateway with no failed request; the drained host then gets no new app."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest

from activities.placement import choose_host
from pipeline.operations import app_releases, app_status
from store.releases import ReleaseRepository
from store.runtime_hosts import RuntimeHosts
from tests.integration.conftest import Stack, running_stack
from tests.integration.second_host import (
    HOST_A,
    HOST_B,
    LIGHT_QA,
    drain_while_polling,
    live_hosts,
    second_host,
)
from workers.wiring import sandbox_runtime

pytestmark = [pytest.mark.integration, pytest.mark.timeout(3000)]


@pytest.fixture(scope="module")
async def stack() -> AsyncIterator[Stack]:
    async with running_stack(worker_env=LIGHT_QA) as stack:
        yield stack


async def test_drain_moves_the_app_without_a_failed_request(stack: Stack) -> None:
    app_id = "drained-guestbook"
    deployment, _ = await stack.deploy(app_id, "a guestbook for our wedding")  # a quick gate
    await stack.outcome(app_id, deployment, within=1800)  # only it-host is registered yet
    route = await ReleaseRepository(stack.db).route(app_id)
    assert route is not None and route.host == HOST_A

    with second_host(stack) as host_b:
        settings_b = host_b.settings
        await live_hosts(stack)
        listed = stack.mb("hosts")
        assert listed.returncode == 0, listed.stderr
        assert HOST_A in listed.stdout and HOST_B in listed.stdout and "1/" in listed.stdout

        drained, _, statuses = await drain_while_polling(stack, HOST_A, [app_id])
        assert drained.returncode == 0, drained.stdout + drained.stderr
        assert f"moving 1 app(s): {app_id}" in drained.stdout
        assert f"{HOST_A} is drained" in drained.stdout
        assert len(statuses) > 50 and set(statuses) == {200}, sorted(set(statuses))

        route = await ReleaseRepository(stack.db).route(app_id)
        assert route is not None and route.host == HOST_B
        status = await app_status(stack.client, app_id)
        assert status.live is not None and status.live.host == HOST_B
        assert status.refreshes[-1].ok and HOST_B in status.refreshes[-1].message
        assert (await app_releases(stack.client, app_id))[-1].host == HOST_B
        assert await stack.runtime().state(status.live.instance_id) != "running"  # not on A
        assert await sandbox_runtime(settings_b).state(status.live.instance_id) == "running"
        await stack.page(app_id)
        shown = stack.mb("status", app_id)
        assert f"on {HOST_B}" in shown.stdout, shown.stdout

        # Drained: no new app goes there.
        placed = await RuntimeHosts(stack.db).place(
            "after-drain", lambda loads: choose_host(loads, [HOST_A]), dead_after_s=15
        )
        assert placed == HOST_B
        hosts = json.loads(stack.mb("hosts", "--json").stdout)
        assert {h["name"]: h["state"] for h in hosts} == {HOST_A: "drained", HOST_B: "active"}
        await sandbox_runtime(settings_b).stop_all(drain_s=0)
    undrained = stack.mb("hosts", "undrain", HOST_A)
    assert undrained.returncode == 0 and f"{HOST_A} is active" in undrained.stdout


async def test_an_unknown_host_is_refused_and_nothing_changes(stack: Stack) -> None:
    hosts = RuntimeHosts(stack.db)
    before = [(h.name, h.state) for h in await hosts.hosts(15)]
    for command in ("drain", "undrain"):
        done = stack.mb("hosts", command, "no-such-host")
        assert done.returncode == 1
        assert "runtime host 'no-such-host' is not registered" in done.stderr
        assert "Traceback" not in done.stderr
    assert [(h.name, h.state) for h in await hosts.hosts(15)] == before

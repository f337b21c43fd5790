"""Two runtime hosts on this machine (two ``mb worker --runtime-host`` processes, each
with its own data directory; the second serves its apps through its own ``mb
host-gateway``, as a second machine would): an app deployed on the first moves to the
second when ``mb hosts drain`` drains the first, while a client polls it through the
front gateway with no failed request; the drained host then gets no new app."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from activities.placement import choose_host
from pipeline.operations import app_releases, app_status
from schemas.settings import Settings
from store.host_gateways import HostGatewayRegistry
from store.releases import ReleaseRepository
from store.runtime_hosts import RuntimeHosts
from temporal.devserver import free_loopback_port
from tests.integration.conftest import Stack, running_stack
from tests.mb_env import mb_env
from workers.wiring import sandbox_runtime

pytestmark = [pytest.mark.integration, pytest.mark.timeout(3000)]

HOST_A, HOST_B = "it-host", "it-host-b"


# The gate still runs whole, lighter: this test is about where the release runs.
LIGHT_QA = {"MB_QA_TEST_RUNS": "1"}


@pytest.fixture(scope="module")
async def stack() -> AsyncIterator[Stack]:
    async with running_stack(worker_env=LIGHT_QA) as stack:
        yield stack


@contextlib.contextmanager
def second_host(stack: Stack) -> Iterator[Settings]:
    """``mb worker --runtime-host it-host-b`` and its ``mb host-gateway``, with their own
    data directory (the same keys and gateway CA, as every host holds them) and their
    own sandbox uid range."""
    data_dir = stack.data_dir / "host-b"
    data_dir.mkdir(mode=0o755)
    shutil.copytree(stack.data_dir / "keys", data_dir / "keys")
    uid_base = str(stack.settings.sandbox_uid_base + stack.settings.sandbox_uid_count)
    env = mb_env(
        data_dir,
        MB_TEMPORAL_ADDRESS=stack.env["MB_TEMPORAL_ADDRESS"],
        MB_DATABASE_URL=stack.env["MB_DATABASE_URL"],
        MB_ADVISORY_DB=stack.env["MB_ADVISORY_DB"],
        MB_DRAIN_S="0.2",
        MB_SANDBOX_UID_BASE=uid_base,
        MB_WORKER_METRICS_PORT=str(free_loopback_port()),
        MB_RUNTIME_HOST=HOST_B,
        MB_HOST_GATEWAY_PORT=str(free_loopback_port()),
        **LIGHT_QA,
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "cli.main", *command],
            env=env,
            stdout=(stack.data_dir / "logs" / f"{name}-host-b.log").open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        for name, command in (
            ("worker", ("worker", "--runtime-host", HOST_B)),
            ("host-gateway", ("host-gateway",)),
        )
    ]
    settings = Settings(data_dir=data_dir, runtime_host=HOST_B, sandbox_uid_base=int(uid_base))
    try:
        yield settings
    finally:
        for proc in procs:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


async def _live_hosts(stack: Stack, within: float = 300) -> set[str]:
    """Both hosts registered and heartbeating, the second one's gateway registered."""
    hosts = RuntimeHosts(stack.db)
    gateways = HostGatewayRegistry(stack.db)
    for _ in range(int(within * 4)):
        live = {h.name for h in await hosts.hosts(stack.settings.host_dead_after_s) if h.live}
        if {HOST_A, HOST_B} <= live and await gateways.url(HOST_B) is not None:
            return live
        await asyncio.sleep(0.25)
    raise AssertionError(f"hosts not live: {await hosts.hosts(15)}")


async def test_drain_moves_the_app_without_a_failed_request(stack: Stack) -> None:
    app_id = "drained-guestbook"
    deployment, _ = await stack.deploy(app_id, "a guestbook for our wedding")  # a quick gate
    await stack.outcome(app_id, deployment, within=1800)  # only it-host is registered yet
    route = await ReleaseRepository(stack.db).route(app_id)
    assert route is not None and route.host == HOST_A

    with second_host(stack) as settings_b:
        await _live_hosts(stack)
        listed = stack.mb("hosts")
        assert listed.returncode == 0, listed.stderr
        assert HOST_A in listed.stdout and HOST_B in listed.stdout and "1/" in listed.stdout

        statuses: list[int] = []
        stop = asyncio.Event()

        async def load() -> None:
            while not stop.is_set():
                try:
                    statuses.append((await stack.apps.get(f"/apps/{app_id}/")).status_code)
                except httpx.HTTPError as err:
                    statuses.append(-1)
                    print("load error:", err)

        loader = asyncio.create_task(load())
        try:
            drained = await asyncio.to_thread(
                stack.mb, "hosts", "drain", HOST_A, "--timeout", "600", timeout=700
            )
            await asyncio.sleep(1.0)
        finally:
            stop.set()
            await loader
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

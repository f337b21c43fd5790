"""A second runtime host on this machine for the integration tests: ``mb worker
--runtime-host it-host-b`` and its ``mb host-gateway``, with their own, empty data
directory and their own sandbox uid range; every key (payload, master, evidence, gateway
CA) comes from the shared key source (``MB_KEY_SOURCE_DIR`` at the first host's key
directory, as a mounted secret would be), nothing is copied. Each process runs in its
own session so a test can SIGKILL it as a whole."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Collection, Iterator

import httpx

from schemas.settings import Settings
from store.host_gateways import HostGatewayRegistry
from store.incidents import Incident, IncidentLog
from store.runtime_hosts import RuntimeHosts
from temporal.devserver import free_loopback_port
from tests.integration.conftest import Stack
from tests.mb_env import mb_env

HOST_A, HOST_B = "it-host", "it-host-b"

# The gate still runs whole, lighter: these tests are about where the release runs.
LIGHT_QA = {"MB_QA_TEST_RUNS": "1"}

COMMANDS = {"worker": ("worker", "--runtime-host", HOST_B), "host-gateway": ("host-gateway",)}


class SecondHost:
    """Host B's processes: started, killed and started again by name."""

    def __init__(self, stack: Stack) -> None:
        self._stack = stack
        data_dir = stack.data_dir / "host-b"
        data_dir.mkdir(mode=0o755)
        keys = stack.settings.keys_path
        uid_base = str(stack.settings.sandbox_uid_base + stack.settings.sandbox_uid_count)
        self.env = mb_env(
            data_dir,
            MB_TEMPORAL_ADDRESS=stack.env["MB_TEMPORAL_ADDRESS"],
            MB_DATABASE_URL=stack.env["MB_DATABASE_URL"],
            MB_ADVISORY_DB=stack.env["MB_ADVISORY_DB"],
            MB_DRAIN_S="0.2",
            MB_SANDBOX_UID_BASE=uid_base,
            MB_WORKER_METRICS_PORT=str(free_loopback_port()),
            MB_RUNTIME_HOST=HOST_B,
            MB_KEY_SOURCE_DIR=str(keys),
            MB_HOST_GATEWAY_PORT=str(free_loopback_port()),
            **LIGHT_QA,
        )
        self.settings = Settings(
            data_dir=data_dir,
            runtime_host=HOST_B,
            sandbox_uid_base=int(uid_base),
            key_source_dir=keys,
        )
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str) -> None:
        """Start ``worker`` or ``host-gateway`` (again, after a kill)."""
        self.procs[name] = subprocess.Popen(
            [sys.executable, "-m", "cli.main", *COMMANDS[name]],
            env=self.env,
            stdout=(self._stack.data_dir / "logs" / f"{name}-host-b.log").open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def kill(self, name: str) -> None:
        """SIGKILL the process and everything in its process group."""
        kill_group(self.procs.pop(name))


def kill_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL a process started in a session of its own, with its process group."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


@contextlib.contextmanager
def second_host(stack: Stack) -> Iterator[SecondHost]:
    """Host B running (worker and host gateway) for the block, killed after it."""
    host = SecondHost(stack)
    for name in COMMANDS:
        host.start(name)
    try:
        yield host
    finally:
        for name in list(host.procs):
            host.kill(name)


async def live_hosts(
    stack: Stack,
    within: float = 300,
    names: Collection[str] = (HOST_A, HOST_B),
    with_gateway: Collection[str] = (HOST_B,),
) -> set[str]:
    """The hosts ``names`` registered and heartbeating, those ``with_gateway`` with their
    gateway registered (by default: both hosts, the second one's gateway)."""
    hosts = RuntimeHosts(stack.db)
    gateways = HostGatewayRegistry(stack.db)
    for _ in range(int(within * 4)):
        live = {h.name for h in await hosts.hosts(stack.settings.host_dead_after_s) if h.live}
        registered = [await gateways.url(name) for name in with_gateway]
        if set(names) <= live and None not in registered:
            return live
        await asyncio.sleep(0.25)
    raise AssertionError(f"hosts not live: {await hosts.hosts(15)}")


async def answering(stack: Stack, app_ids: Collection[str], within: float = 300) -> float:
    """Seconds until every app answers 200 through the front gateway."""
    started = time.monotonic()
    waiting = set(app_ids)
    while waiting:
        assert time.monotonic() - started < within, f"still down: {sorted(waiting)}"
        for app_id in sorted(waiting):
            if (await stack.apps.get(f"/apps/{app_id}/")).status_code == 200:
                waiting.discard(app_id)
        await asyncio.sleep(0.1)
    return time.monotonic() - started


async def drain_while_polling(
    stack: Stack, host: str, app_ids: Collection[str]
) -> tuple[subprocess.CompletedProcess[str], float, list[int]]:
    """``mb hosts drain HOST`` while a client polls the apps through the front gateway:
    the command, its seconds and every answer's status (-1: no answer)."""
    statuses: list[int] = []
    stop = asyncio.Event()

    async def load() -> None:
        while not stop.is_set():
            for app_id in app_ids:
                try:
                    statuses.append((await stack.apps.get(f"/apps/{app_id}/")).status_code)
                except httpx.HTTPError as err:
                    statuses.append(-1)
                    print("load error:", err)

    loader = asyncio.create_task(load())
    try:
        started = time.monotonic()
        done = await asyncio.to_thread(
            stack.mb, "hosts", "drain", host, "--timeout", "600", timeout=700
        )
        seconds = time.monotonic() - started
        await asyncio.sleep(1.0)
    finally:
        stop.set()
        await loader
    return done, seconds, statuses


async def assert_host_lost_incident(stack: Stack, app_id: str, host: str) -> None:
    """The app has exactly one ``host_lost`` incident, the detector's, naming ``host``."""
    incidents = await IncidentLog(stack.db).search(app_id=app_id)
    (lost,) = [i for i in incidents if i.kind == "host_lost"]
    assert lost.actor == "host-loss-detector"
    assert f"runtime host {host} lost" in lost.reason


async def fenced_incidents(stack: Stack, app_id: str) -> list[Incident]:
    """The app's reconciliation incidents that record a fenced instance."""
    return [
        i
        for i in await IncidentLog(stack.db).search(app_id=app_id)
        if i.kind == "reconciliation" and "fenced" in i.reason
    ]

"""Lifecycle of app instances in the bubblewrap runtime: start, find, restart, stop."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import httpx
import pytest

from runtime.base import PythonEnv, Runtime
from runtime.errors import AppStartError
from runtime.health import probe, wait_healthy
from runtime.sandbox import SandboxRuntime
from runtime.sandbox_run import sandbox_env
from schemas.bundle import AppManifest
from schemas.runtime import InstanceInfo
from tests.runtime.support import LEASED_UIDS, TEST_UIDS, make_runtime, write_app

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


async def start(
    runtime: SandboxRuntime, bundle: Path, env: PythonEnv, app_id: str = "demo"
) -> InstanceInfo:
    return await runtime.start(
        app_id=app_id,
        version=1,
        bundle_dir=bundle,
        env=env,
        manifest=AppManifest(),
    )


async def post(socket_path: str, path: str) -> httpx.Response:
    transport = httpx.AsyncHTTPTransport(uds=socket_path)
    async with httpx.AsyncClient(transport=transport, timeout=10) as client:
        return await client.post(f"http://app{path}")


def present(pid: int) -> bool:
    """The pid exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_bytes().decode(errors="replace")
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def children(pid: int) -> list[int]:
    found = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                raw = Path(entry.path, "stat").read_bytes().decode(errors="replace")
                stat = raw.rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(stat[1]) == pid:
                found.append(int(entry.name))
    return found


def test_implements_the_runtime_protocol(runtime: SandboxRuntime) -> None:
    implementation: Runtime = runtime
    assert implementation.host == "test-host"


async def test_start_is_healthy_and_idempotent(
    runtime: SandboxRuntime, app_bundle: Path, pyenv: PythonEnv
) -> None:
    t0 = time.monotonic()
    info = await start(runtime, app_bundle, pyenv)
    health = await wait_healthy(info.socket_path, info.health_path, attempts=20, interval_s=0.05)
    startup = time.monotonic() - t0
    assert health.healthy and health.status_code == 200, health
    assert await probe(info.socket_path, "/health", timeout_s=2) == 200
    assert await probe(info.socket_path, "/nope", timeout_s=2) == 404
    unhealthy = await wait_healthy(info.socket_path, "/nope", attempts=2, interval_s=0.05)
    assert not unhealthy.healthy and unhealthy.status_code == 404
    nobody = await wait_healthy(info.socket_path + ".x", "/health", attempts=2, interval_s=0.05)
    assert not nobody.healthy and nobody.status_code is None
    assert info.instance_id == "demo-v1" and info.host == "test-host"
    assert await runtime.state(info.instance_id) == "running"
    print(f"start-to-healthy: {startup:.2f} s")

    record = await runtime.record(info.instance_id)
    assert record is not None
    procs_before = sorted([record.bwrap_pid, record.init_pid, *children(record.init_pid)])
    again = await start(runtime, app_bundle, pyenv)
    assert again == info
    record_again = await runtime.record(info.instance_id)
    assert record_again == record
    assert sorted([record.bwrap_pid, record.init_pid, *children(record.init_pid)]) == procs_before
    assert len(children(record.init_pid)) == 1, "exactly one app process"
    assert [i.instance_id for i in await runtime.instances()] == ["demo-v1"]


async def test_data_survives_a_restart(
    runtime: SandboxRuntime, app_bundle: Path, pyenv: PythonEnv
) -> None:
    info = await start(runtime, app_bundle, pyenv)
    assert (await post(info.socket_path, "/notes/first")).json() == {"notes": ["first"]}
    await runtime.stop(info.instance_id, drain_s=0)
    info = await start(runtime, app_bundle, pyenv)
    assert (await post(info.socket_path, "/notes/second")).json() == {"notes": ["first", "second"]}
    data_dir = runtime.data_root / "demo"
    record = await runtime.record(info.instance_id)
    assert record is not None and record.uid in LEASED_UIDS
    assert data_dir.stat().st_uid == record.uid and (data_dir.stat().st_mode & 0o777) == 0o700


async def test_stop_removes_processes_socket_and_cgroups(
    runtime: SandboxRuntime, app_bundle: Path, pyenv: PythonEnv
) -> None:
    info = await start(runtime, app_bundle, pyenv)
    record = await runtime.record(info.instance_id)
    assert record is not None
    app_pids = children(record.init_pid)
    pids = [record.bwrap_pid, record.init_pid, *app_pids]
    assert all(present(p) for p in pids) and len(app_pids) == 1
    assert all(Path(c).is_dir() for c in record.limits.cgroups)

    await runtime.stop(info.instance_id, drain_s=1.0)
    assert [p for p in pids if present(p)] == []
    assert not Path(info.socket_path).exists()
    assert [c for c in record.limits.cgroups if Path(c).exists()] == []
    assert await runtime.state(info.instance_id) == "stopped"
    assert await probe(info.socket_path, "/health", timeout_s=1) is None

    await runtime.stop(info.instance_id)  # twice is fine
    await runtime.stop("never-started-v1")
    assert await runtime.state("never-started-v1") == "missing"


async def test_stop_drains_in_flight_requests(
    runtime: SandboxRuntime, app_bundle: Path, pyenv: PythonEnv
) -> None:
    info = await start(runtime, app_bundle, pyenv)
    transport = httpx.AsyncHTTPTransport(uds=info.socket_path)
    async with httpx.AsyncClient(transport=transport, timeout=10) as client:
        request = asyncio.create_task(client.get("http://app/slow?s=1.5"))
        await asyncio.sleep(0.3)  # the request is in flight
        t0 = time.monotonic()
        await runtime.stop(info.instance_id, drain_s=3.0)
        stopped_after = time.monotonic() - t0
        response = await request
    assert response.status_code == 200 and response.json() == {"slept": 1.5}
    assert 0.8 < stopped_after < 3.0 + runtime.kill_grace_s


async def test_stop_kills_an_app_that_does_not_drain_in_time(
    state_dir: Path, pyenv: PythonEnv, app_bundle: Path
) -> None:
    # Without cgroups, so that only the SIGKILL of the sandbox's init can end it early.
    runtime = SandboxRuntime(
        state_dir,
        host="test-host",
        uids=TEST_UIDS,
        memory_mb=256,
        pids=64,
        cpu=1.0,
        use_cgroups=False,
    )
    info = await start(runtime, app_bundle, pyenv)
    record = await runtime.record(info.instance_id)
    assert record is not None and record.limits.mechanism == "rlimit"
    app_pids = children(record.init_pid)
    transport = httpx.AsyncHTTPTransport(uds=info.socket_path)
    async with httpx.AsyncClient(transport=transport, timeout=30) as client:
        hung = asyncio.create_task(client.get("http://app/slow?s=1000"))
        await asyncio.sleep(0.3)
        t0 = time.monotonic()
        await runtime.stop(info.instance_id, drain_s=0.5)
        stopped_after = time.monotonic() - t0
        with pytest.raises(httpx.TransportError):
            await hung
    # uvicorn alone would wait for the request up to its graceful timeout (30 s).
    assert stopped_after < 0.5 + runtime.kill_grace_s + 1.5
    assert [p for p in [record.init_pid, *app_pids] if present(p)] == []


async def test_import_crash_raises_with_the_log_tail(
    runtime: SandboxRuntime, pyenv: PythonEnv, tmp_path: Path
) -> None:
    broken = write_app(tmp_path / "broken", main="raise RuntimeError('boom at import 4f2a')\n")
    with pytest.raises(AppStartError, match="boom at import 4f2a") as caught:
        await start(runtime, broken, pyenv, app_id="broken")
    assert "exited during startup" in str(caught.value)
    record = await runtime.record("broken-v1")
    assert record is not None and record.stopped_at is not None
    assert await runtime.state("broken-v1") == "stopped"
    assert [c for c in record.limits.cgroups if Path(c).exists()] == []
    assert not present(record.init_pid)


async def test_a_new_runtime_object_finds_and_stops_a_running_instance(
    state_dir: Path, app_bundle: Path, pyenv: PythonEnv
) -> None:
    first = make_runtime(state_dir)
    info = await start(first, app_bundle, pyenv)
    record = await first.record(info.instance_id)
    assert record is not None
    del first  # the worker restarts: nothing but the state dir survives

    second = make_runtime(state_dir)
    assert await second.state(info.instance_id) == "running"
    assert [i.instance_id for i in await second.instances()] == [info.instance_id]
    assert await start(second, app_bundle, pyenv) == info  # found, not started twice
    assert await probe(info.socket_path, "/health", timeout_s=2) == 200

    await second.stop(info.instance_id, drain_s=0.5)
    assert not present(record.init_pid)
    assert await second.state(info.instance_id) == "stopped"


async def test_a_dead_leftover_is_replaced_on_start(
    runtime: SandboxRuntime, app_bundle: Path, pyenv: PythonEnv
) -> None:
    info = await start(runtime, app_bundle, pyenv)
    record = await runtime.record(info.instance_id)
    assert record is not None
    os.kill(record.init_pid, 9)  # the instance dies behind the runtime's back
    for _ in range(100):
        if not present(record.init_pid):
            break
        await asyncio.sleep(0.02)
    assert await runtime.state(info.instance_id) == "stopped"

    again = await start(runtime, app_bundle, pyenv)
    new_record = await runtime.record(again.instance_id)
    assert new_record is not None and new_record.init_pid != record.init_pid
    assert await probe(again.socket_path, "/health", timeout_s=2) == 200


async def test_a_sandbox_left_by_an_interrupted_start_is_killed_on_retry(
    runtime: SandboxRuntime, app_bundle: Path, pyenv: PythonEnv
) -> None:
    """A worker SIGKILLed after spawning bwrap but before saving the record leaves a sandbox
    no record knows of; the retried start kills it instead of running a second copy."""
    info = await start(runtime, app_bundle, pyenv)
    record = await runtime.record(info.instance_id)
    assert record is not None
    (runtime.instance_dir(info.instance_id) / "instance.json").unlink()  # never saved
    assert await runtime.state(info.instance_id) == "missing"

    again = await start(runtime, app_bundle, pyenv)
    new_record = await runtime.record(again.instance_id)
    assert new_record is not None and new_record.init_pid != record.init_pid
    assert not present(record.init_pid) and not present(record.bwrap_pid)
    assert await probe(again.socket_path, "/health", timeout_s=2) == 200
    sock_dir = str(runtime.instance_dir(info.instance_id) / "sock")
    naming = {
        tuple(args)
        for pid in os.listdir("/proc")
        if pid.isdigit() and sock_dir.encode() in (args := _cmdline(pid))
    }
    assert len(naming) == 1  # one sandbox (bwrap and its init share a command line)


def _cmdline(pid: str) -> list[bytes]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return []


SECRET_APP = """
import hashlib
import os

from fastapi import FastAPI

app = FastAPI()


@app.get("/health")
def health() -> dict:
    return {"ok": True}


@app.get("/secret")
def secret() -> dict:
    value = os.environ.get("API_TOKEN", "")
    return {"sha256": hashlib.sha256(value.encode()).hexdigest(), "keys": sorted(os.environ)}
"""


async def test_secrets_reach_the_app_but_no_command_line_or_file(
    runtime: SandboxRuntime, pyenv: PythonEnv, tmp_path: Path
) -> None:
    import hashlib

    value = "sk_live_SANDBOX-SECRET-" + os.urandom(8).hex()
    bundle = write_app(tmp_path / "secret-app", SECRET_APP)
    info = await runtime.start(
        app_id="secret-app",
        version=1,
        bundle_dir=bundle,
        env=pyenv,
        manifest=AppManifest(),
        secrets={"API_TOKEN": value},
    )
    assert (await wait_healthy(info.socket_path, "/health", attempts=60, interval_s=0.1)).healthy
    transport = httpx.AsyncHTTPTransport(uds=info.socket_path)
    async with httpx.AsyncClient(transport=transport, timeout=10) as client:
        seen = (await client.get("http://app/secret")).json()
    assert seen["sha256"] == hashlib.sha256(value.encode()).hexdigest()
    # Exactly the sandbox's own environment plus the secret: nothing from the launcher or host.
    expected = sandbox_env({"PYTHONDONTWRITEBYTECODE": "1", "MICROAPP_DATA_DIR": "/data"})
    assert set(seen["keys"]) == {*expected, "API_TOKEN", "PWD"}  # bwrap sets PWD on --chdir
    # No process on the host shows the value on its command line (world-readable).
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                cmdline = Path(entry.path, "cmdline").read_bytes()
            except OSError:
                continue
            assert value.encode() not in cmdline, entry.name
    # Nor is it written anywhere under the runtime's state directory.
    for path in runtime.state_dir.rglob("*"):
        if path.is_file() and not path.is_socket():
            assert value.encode() not in path.read_bytes(), path
    await runtime.stop(info.instance_id, drain_s=0)


async def test_a_reserved_name_cannot_be_a_secret(
    runtime: SandboxRuntime, app_bundle: Path, pyenv: PythonEnv
) -> None:
    with pytest.raises(ValueError, match="reserved"):
        await runtime.start(
            app_id="demo",
            version=1,
            bundle_dir=app_bundle,
            env=pyenv,
            manifest=AppManifest(),
            secrets={"LD_PRELOAD": "/tmp/x.so"},
        )

"""The same contract for every runtime (bubblewrap sandbox and Docker containers): a
deployed app cannot escape, its resource bombs are contained, its secrets stay
off command lines and disks, and start/stop behave alike.

Each test starts a probe app on the runtime under test and plants something on
the host for it to look for. Docker tests talk to a real dockerd (CI starts one:
``--iptables=false --bridge=none``; containers get no network at all).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import signal
import socket
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from activities.qa.test_runs import run_tests_repeatedly
from runtime.base import PythonEnv, Runtime
from runtime.docker import DockerInstanceRecord, DockerRuntime
from runtime.health import wait_healthy
from runtime.procfs import processes_naming
from runtime.sandbox import InstanceRecord as SandboxInstanceRecord
from runtime.sandbox import SandboxRuntime
from runtime.uids import app_holder
from schemas.bundle import AppManifest
from schemas.hosts import HostCapacity
from schemas.runtime import InstanceInfo
from store.apps import AppRepository
from store.artifacts import ArtifactStore
from store.db import Database
from store.incidents import IncidentLog
from store.releases import ReleaseRepository, Route
from store.runtime_hosts import RuntimeHosts
from tests.runtime.support import (
    LEASED_UIDS,
    SYSCALL_PROBE,
    SYSCALLS_REFUSED,
    TEST_UIDS,
    accepted_nothing,
    make_runtime,
    write_app,
)
from workers.reconcile import Reconciler

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

MEMORY_MB, PIDS = 256, 64

PROBE_APP = (
    """
import os
import socket
import threading

from fastapi import FastAPI

app = FastAPI()
children = []


@app.get("/health")
def health() -> dict:
    return {"ok": True}


@app.get("/net")
def net(port: int) -> dict:
    result = {"interfaces": [name for _, name in socket.if_nameindex()]}
    for host in ("127.0.0.1", "::1"):
        try:
            socket.create_connection((host, port), timeout=2).close()
            result[host] = "connected"
        except OSError as exc:
            result[host] = type(exc).__name__
    return result


@app.get("/read")
def read(path: str) -> dict:
    try:
        with open(path, "rb") as f:
            return {"read": len(f.read(64))}
    except OSError as exc:
        return {"error": type(exc).__name__}


@app.get("/write")
def write(path: str) -> dict:
    try:
        with open(path, "w") as f:
            f.write("x")
        return {"written": True}
    except OSError as exc:
        return {"error": type(exc).__name__}


@app.get("/env")
def env() -> dict:
    return dict(os.environ)


@app.get("/who")
def who() -> dict:
    status = dict(
        line.split(":", 1) for line in open("/proc/self/status").read().splitlines() if ":" in line
    )
    try:
        os.setuid(0)
        escalated = True
    except OSError:
        escalated = False
    return {
        "uid": os.getuid(),
        "gid": os.getgid(),
        "cap_eff": status["CapEff"].strip(),
        "no_new_privs": status["NoNewPrivs"].strip(),
        "escalated": escalated,
    }


@app.get("/forkbomb")
def forkbomb() -> dict:
    forked, error = 0, None
    for _ in range(1000):
        try:
            pid = os.fork()
        except OSError as exc:
            error = type(exc).__name__
            break
        if pid == 0:
            import time
            time.sleep(30)
            os._exit(0)
        children.append(pid)
        forked += 1
    for pid in children:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
    children.clear()
    return {"forked": forked, "error": error}


@app.get("/fill")
def fill() -> dict:
    written = 0
    try:
        with open("/tmp/fill", "wb") as f:
            for _ in range(2048):
                f.write(b"x" * (1 << 20))
                f.flush()
                written += 1
    except OSError as exc:
        return {"mb": written, "error": type(exc).__name__}
    finally:
        os.unlink("/tmp/fill")
    return {"mb": written, "error": None}


@app.get("/busy")
def busy(seconds: float = 3.0, workers: int = 4) -> dict:
    import time
    started = time.monotonic()
    pids = []
    for _ in range(workers):
        pid = os.fork()
        if pid == 0:
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                pass
            os._exit(0)
        pids.append(pid)
    for pid in pids:
        os.waitpid(pid, 0)
    times = os.times()
    cpu = times.children_user + times.children_system
    return {"cores_used": cpu / (time.monotonic() - started)}


@app.get("/membomb")
def membomb() -> dict:
    hog = []
    try:
        for _ in range(4096):
            hog.append(bytearray(1 << 20))
    except MemoryError:
        return {"mb": len(hog), "error": "MemoryError"}
    return {"mb": len(hog), "error": None}


@app.get("/secret")
def secret() -> dict:
    import hashlib
    return {"sha256": hashlib.sha256(os.environ.get("API_TOKEN", "").encode()).hexdigest()}


held = threading.Event()


@app.get("/hold")
def hold() -> dict:
    # Start threads until the process allowance is used up, and keep them.
    started, error = 0, None
    while started < 10_000:
        try:
            threading.Thread(target=held.wait, daemon=True).start()
        except RuntimeError as exc:
            error = str(exc)
            break
        started += 1
    return {"threads": started, "error": error}


@app.get("/syscalls")
def syscalls() -> dict:
    return syscall_probe()
"""
    + SYSCALL_PROBE
)


@pytest.fixture(scope="session")
def probe_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_app(tmp_path_factory.mktemp("probe") / "app", PROBE_APP)


@pytest.fixture(params=["sandbox", "docker"])
async def any_runtime(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[SandboxRuntime | DockerRuntime]:
    state = tmp_path_factory.mktemp("rt") / "state"
    runtime: SandboxRuntime | DockerRuntime
    if request.param == "sandbox":
        runtime = make_runtime(state)
    else:
        request.getfixturevalue("docker_base")
        runtime = DockerRuntime(
            state, host="test-host", uids=TEST_UIDS, memory_mb=MEMORY_MB, pids=PIDS, cpu=1.0
        )
    yield runtime
    for info in await runtime.instances():
        await runtime.stop(info.instance_id, drain_s=0)


async def _start(
    runtime: Runtime,
    bundle: Path,
    env: PythonEnv,
    app_id: str | None = None,
    secrets: dict[str, str] | None = None,
    version: int = 1,
    generation: int = 0,
) -> InstanceInfo:
    info = await runtime.start(
        app_id=app_id or f"probe-{uuid.uuid4().hex[:6]}",
        version=version,
        bundle_dir=bundle,
        env=env,
        manifest=AppManifest(),
        secrets=secrets,
        generation=generation,
    )
    health = await wait_healthy(info.socket_path, "/health", attempts=100, interval_s=0.1)
    assert health.healthy, health
    return info


async def _get(info: InstanceInfo, path: str, timeout_s: float = 60) -> Any:
    transport = httpx.AsyncHTTPTransport(uds=info.socket_path)
    async with httpx.AsyncClient(transport=transport, timeout=timeout_s) as client:
        response = await client.get(f"http://app{path}")
        response.raise_for_status()
        return response.json()


@pytest.mark.reliability(
    "Escape attempts",
    done="Connect from the app to a listener on the host's 127.0.0.1 (both runtimes)",
)
async def test_an_app_cannot_reach_the_hosts_loopback(
    any_runtime: Runtime, probe_bundle: Path, pyenv: PythonEnv
) -> None:
    """The connection fails; the listener accepted nothing."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    listener.setblocking(False)
    try:
        info = await _start(any_runtime, probe_bundle, pyenv)
        seen = await _get(info, f"/net?port={listener.getsockname()[1]}")
        assert seen["interfaces"] == ["lo"], seen
        assert seen["127.0.0.1"] == "ConnectionRefusedError", seen
        assert seen["::1"] != "connected", seen
        assert accepted_nothing(listener)
    finally:
        listener.close()


@pytest.mark.reliability(
    "Escape attempts",
    done=(
        "Read host files, the data directory's keys and the Docker socket from the app (both "
        "runtimes)"
    ),
)
async def test_an_app_cannot_read_the_hosts_files_keys_or_docker_socket(
    any_runtime: SandboxRuntime | DockerRuntime, probe_bundle: Path, pyenv: PythonEnv
) -> None:
    """None of them can be read or is even visible."""
    planted = any_runtime.state_dir.parent / "planted-key"
    planted.write_text(f"key-{uuid.uuid4().hex}")
    planted.chmod(0o644)  # readable by anybody on the host: only isolation hides it
    info = await _start(any_runtime, probe_bundle, pyenv)
    for path in (
        str(planted),
        str(any_runtime.state_dir / "instances"),
        "/var/run/docker.sock",
        "/run/docker.sock",
        "/etc/shadow",
        "/root/.bash_history",
    ):
        seen = await _get(info, f"/read?path={path}")
        assert "read" not in seen, (path, seen)


@pytest.mark.reliability(
    "Escape attempts",
    done="List the app's environment (both runtimes)",
)
async def test_an_app_sees_none_of_the_hosts_environment(
    any_runtime: Runtime, probe_bundle: Path, pyenv: PythonEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No variable of the host's environment is there."""
    planted = f"planted-{uuid.uuid4().hex}"
    monkeypatch.setenv("MB_PLANTED_HOST_VALUE", planted)
    info = await _start(any_runtime, probe_bundle, pyenv)
    seen = await _get(info, "/env")
    assert "MB_PLANTED_HOST_VALUE" not in seen and planted not in str(seen)
    assert not any(key.startswith(("MB_", "DOCKER", "SUDO", "SSH")) for key in seen), seen


@pytest.mark.reliability(
    "Escape attempts",
    done="Write everywhere from the app (both runtimes)",
)
async def test_an_app_writes_only_to_tmp_and_its_data(
    any_runtime: Runtime, probe_bundle: Path, pyenv: PythonEnv
) -> None:
    """Only /tmp and the app's data directory are writable."""
    info = await _start(any_runtime, probe_bundle, pyenv)
    for path in ("/app/main.py", "/app/new.txt", "/etc/passwd", "/usr/evil", "/evil"):
        seen = await _get(info, f"/write?path={path}")
        assert "written" not in seen, (path, seen)
    assert await _get(info, "/write?path=/tmp/ok") == {"written": True}
    assert await _get(info, "/write?path=/data/ok") == {"written": True}


@pytest.mark.reliability(
    "Escape attempts",
    done="Try to become root from the app (both runtimes)",
)
async def test_an_app_is_unprivileged_and_cannot_gain_privileges(
    any_runtime: Runtime, probe_bundle: Path, pyenv: PythonEnv
) -> None:
    """The app runs as its own unprivileged uid with no capabilities and cannot gain
    privileges."""
    info = await _start(any_runtime, probe_bundle, pyenv)
    seen = await _get(info, "/who")
    assert seen["uid"] in LEASED_UIDS and seen["gid"] == seen["uid"]
    assert int(seen["cap_eff"], 16) == 0, seen
    assert seen["no_new_privs"] == "1" and seen["escalated"] is False


@pytest.mark.reliability(
    "Escape attempts",
    done=(
        "Create user, mount and network namespaces, mount, use keyctl, bpf and perf_event_open, "
        "trace another process, load a module, set the clock, open a vsock from the app "
        "(both runtimes)"
    ),
)
async def test_an_app_cannot_make_namespaces_or_other_escalation_syscalls(
    any_runtime: Runtime, probe_bundle: Path, pyenv: PythonEnv
) -> None:
    """Each is refused by the seccomp filter (EPERM; clone3 ENOSYS so libc falls back to clone,
    whose flags the filter reads); threads, fork and sockets still work."""
    info = await _start(any_runtime, probe_bundle, pyenv)
    assert await _get(info, "/syscalls") == SYSCALLS_REFUSED
    assert await _get(info, "/health") == {"ok": True}


@pytest.mark.reliability(
    "Resource abuse",
    done=(
        "One app holds its whole process allowance while another tenant's QA tests stage, an "
        "app start and a rollback run (both runtimes)"
    ),
)
async def test_an_app_holding_its_process_allowance_stops_no_other_tenant(
    any_runtime: SandboxRuntime | DockerRuntime,
    probe_bundle: Path,
    pyenv: PythonEnv,
    tmp_path: Path,
) -> None:
    """The holder is stopped by its own pids limit; meanwhile another tenant's QA tests stage
    (the real sandboxed runner) passes, another app starts, deploys a second release and is
    rolled back to the first while the second runs, each serving; the holder keeps running,
    and even its own app can start a second release beside it (its uid's process backstop
    leaves room for that)."""
    holder = await _start(any_runtime, probe_bundle, pyenv, app_id=f"hold-{uuid.uuid4().hex[:6]}")
    held = await _get(holder, "/hold")
    assert held["error"] is not None and 0 < held["threads"] < PIDS, held

    report = await run_tests_repeatedly(
        probe_bundle,
        pyenv,
        runs=1,
        timeout_s=120,
        seed_base="tenancy",
        work_dir=tmp_path / "qa",
        uids=TEST_UIDS,
        memory_mb=MEMORY_MB,
        pids=PIDS,
    )
    assert report.verdict == "pass", report.reason

    other = f"other-{uuid.uuid4().hex[:6]}"
    first = await _start(any_runtime, probe_bundle, pyenv, app_id=other)
    second = await _start(any_runtime, probe_bundle, pyenv, app_id=other, version=2)
    await any_runtime.stop(first.instance_id, drain_s=0)
    back = await _start(any_runtime, probe_bundle, pyenv, app_id=other, generation=1)
    await any_runtime.stop(second.instance_id, drain_s=0)
    assert await _get(back, "/health") == {"ok": True}
    assert await any_runtime.state(holder.instance_id) == "running"
    holder_record = await any_runtime.record(holder.instance_id)
    back_record = await any_runtime.record(back.instance_id)
    assert holder_record is not None and back_record is not None
    assert holder_record.uid != back_record.uid

    beside = await _start(any_runtime, probe_bundle, pyenv, app_id=holder.app_id, version=2)
    assert await _get(beside, "/health") == {"ok": True}
    assert await any_runtime.state(holder.instance_id) == "running"


async def test_an_app_whose_uid_changed_keeps_its_data(
    any_runtime: SandboxRuntime | DockerRuntime, probe_bundle: Path, pyenv: PythonEnv
) -> None:
    """An app's uid lease taken over while it was stopped: it restarts under another uid, and
    its data directory, with what it wrote before, is that uid's now."""
    app_id = f"moved-{uuid.uuid4().hex[:6]}"
    info = await _start(any_runtime, probe_bundle, pyenv, app_id=app_id)
    assert await _get(info, "/write?path=/data/kept") == {"written": True}
    await any_runtime.stop(info.instance_id, drain_s=0)
    old_uid = await TEST_UIDS.acquire(app_holder(app_id))
    await TEST_UIDS.release(app_holder(app_id))
    # Its uid went to another tenant, which runs as it now.
    squatter = await asyncio.create_subprocess_exec(
        "sleep", "60", user=old_uid, group=old_uid, extra_groups=[]
    )
    try:
        info = await _start(any_runtime, probe_bundle, pyenv, app_id=app_id)
        record = await any_runtime.record(info.instance_id)
        assert record is not None and record.uid not in (None, old_uid)
        assert await _get(info, "/read?path=/data/kept") == {"read": 1}
        assert await _get(info, "/write?path=/data/kept") == {"written": True}
        assert await _get(info, "/write?path=/data/new") == {"written": True}
    finally:
        squatter.kill()
        await squatter.wait()


@pytest.mark.parametrize(
    ("bomb", "bound"),
    [("/forkbomb", ("forked", PIDS)), ("/fill", ("mb", MEMORY_MB)), ("/membomb", ("mb", 1024))],
)
@pytest.mark.reliability(
    "Resource abuse",
    done="A fork bomb, a memory bomb and filling /tmp in one app (both runtimes)",
)
async def test_resource_bombs_are_contained_and_neighbours_keep_serving(
    any_runtime: SandboxRuntime | DockerRuntime,
    probe_bundle: Path,
    pyenv: PythonEnv,
    bomb: str,
    bound: tuple[str, int],
) -> None:
    """Each is stopped by its limit (pids, memory, tmpfs size) or the instance is ended; a
    neighbouring app keeps answering."""
    bomber = await _start(any_runtime, probe_bundle, pyenv)
    neighbour = await _start(any_runtime, probe_bundle, pyenv)
    try:
        seen = await _get(bomber, bomb)
    except httpx.HTTPError:
        # The limit's enforcer (the OOM killer, for memory and tmpfs pages) ended the
        # instance: contained, and reported as not running.
        for _ in range(50):
            if await any_runtime.state(bomber.instance_id) != "running":
                break
            await asyncio.sleep(0.1)
        assert await any_runtime.state(bomber.instance_id) != "running"
    else:
        key, limit = bound
        assert seen["error"] is not None and seen[key] < limit, seen  # stopped by a limit
    assert await _get(neighbour, "/health") == {"ok": True}


@pytest.mark.reliability(
    "Resource abuse",
    done="Four processes spinning in one app on a 2-core host (both runtimes)",
)
async def test_a_busy_loop_gets_its_cpu_share_and_neighbours_keep_serving(
    any_runtime: Runtime, probe_bundle: Path, pyenv: PythonEnv
) -> None:
    """Four processes spinning for 3 s on a 2-core host: with a 1-core limit they get
    about one core between them, and a neighbour still answers promptly."""
    bomber = await _start(any_runtime, probe_bundle, pyenv)
    neighbour = await _start(any_runtime, probe_bundle, pyenv)
    spinning = asyncio.create_task(_get(bomber, "/busy?seconds=3&workers=4"))
    await asyncio.sleep(1.0)
    # within its own request timeout: the neighbour is not starved of CPU
    assert await _get(neighbour, "/health", timeout_s=5) == {"ok": True}
    seen = await spinning
    assert seen["cores_used"] < 1.4, seen  # unlimited, 4 spinners would take both cores


async def test_secrets_reach_the_app_but_no_command_line_or_runtime_file(
    any_runtime: SandboxRuntime | DockerRuntime, probe_bundle: Path, pyenv: PythonEnv
) -> None:
    value = "sk_live_CONTRACT-" + os.urandom(8).hex()
    info = await _start(any_runtime, probe_bundle, pyenv, secrets={"API_TOKEN": value})
    seen = await _get(info, "/secret")
    assert seen["sha256"] == hashlib.sha256(value.encode()).hexdigest()
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                cmdline = Path(entry.path, "cmdline").read_bytes()
            except OSError:
                continue
            assert value.encode() not in cmdline, entry.name
    places = [any_runtime.state_dir]
    if isinstance(any_runtime, DockerRuntime):  # what Docker keeps about its containers
        record = await any_runtime.record(info.instance_id)
        assert record is not None
        kept = Path("/var/lib/docker/containers") / record.container_id
        # Docker keeps the environment it was given here: a secret passed that way would show.
        assert b"MICROAPP_DATA_DIR" in (kept / "config.v2.json").read_bytes()
        places.append(kept)
    for place in places:
        for path in place.rglob("*"):
            if path.is_file() and not path.is_socket():
                assert value.encode() not in path.read_bytes(), path


async def test_start_is_idempotent_and_stop_cleans_up(
    any_runtime: Runtime, probe_bundle: Path, pyenv: PythonEnv
) -> None:
    info = await _start(any_runtime, probe_bundle, pyenv, app_id="same-app")
    assert await _start(any_runtime, probe_bundle, pyenv, app_id="same-app") == info
    assert [i.instance_id for i in await any_runtime.instances()] == [info.instance_id]
    assert await any_runtime.state(info.instance_id) == "running"
    await any_runtime.stop(info.instance_id, drain_s=0)
    await any_runtime.stop(info.instance_id, drain_s=0)  # idempotent
    assert await any_runtime.state(info.instance_id) == "stopped"
    assert not Path(info.socket_path).exists()
    assert await any_runtime.state("never-v1") == "missing"


async def _kill_behind_its_back(runtime: SandboxRuntime | DockerRuntime, instance_id: str) -> None:
    """What a crash or the OOM killer does: the instance dies, nobody is told."""
    record = await runtime.record(instance_id)
    assert record is not None
    if isinstance(record, DockerInstanceRecord):
        import docker

        docker.from_env().containers.get(record.container_id).kill()
    else:
        assert isinstance(record, SandboxInstanceRecord)
        os.kill(record.init_pid, signal.SIGKILL)
    for _ in range(100):
        if await runtime.state(instance_id) != "running":
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{instance_id} survived its kill")


@pytest.mark.reliability(
    "Reconciliation",
    done=(
        "Kill a routed instance and leave an unrouted one running past the grace period (both "
        "runtimes)"
    ),
)
async def test_reconciliation_restarts_a_dead_live_instance_and_stops_an_orphan(
    any_runtime: SandboxRuntime | DockerRuntime, probe_bundle: Path, pyenv: PythonEnv, db: Database
) -> None:
    """One pass restarts the live instance, stops the orphan, leaves a young unrouted instance
    alone and records an incident for each repair."""
    apps = AppRepository(db)
    for app_id in ("live-app", "orphan-app", "young-app"):
        await apps.ensure(app_id, "alice")
    live = await _start(any_runtime, probe_bundle, pyenv, app_id="live-app")
    orphan = await _start(any_runtime, probe_bundle, pyenv, app_id="orphan-app")
    bundle_hash = await ArtifactStore(db).put("bundle", b"the live release")
    async with db.connection() as conn:
        await conn.execute(
            "INSERT INTO releases (app_id, version, deployment_id, bundle_hash, host, instance_id)"
            " VALUES ('live-app', 1, 'dep-1', %s, %s, %s)",
            (bundle_hash, any_runtime.host, live.instance_id),
        )
        await conn.execute(
            "INSERT INTO routes (app_id, version, instance_id, socket_path, host)"
            " VALUES ('live-app', 1, %s, %s, %s)",
            (live.instance_id, live.socket_path, any_runtime.host),
        )
    await _kill_behind_its_back(any_runtime, live.instance_id)
    restarted: list[str] = []

    async def restart(route: Route, bundle: str) -> InstanceInfo:
        assert bundle == bundle_hash  # the routed release, not another
        restarted.append(route.instance_id)
        return await _start(any_runtime, probe_bundle, pyenv, app_id=route.app_id)

    def reconciler(clock_offset_s: float) -> Reconciler:
        return Reconciler(
            any_runtime,
            ReleaseRepository(db),
            apps,
            IncidentLog(db),
            restart,
            orphan_grace_s=600,
            clock=lambda: time.time() + clock_offset_s,
        )

    # Within the grace period an unrouted instance may be a deployment about to switch.
    assert await reconciler(0).run_once() == [f"{live.instance_id}: restarted"]
    assert await any_runtime.state(orphan.instance_id) == "running"
    assert await _get(live, "/health") == {"ok": True}  # serving again, on the routed socket

    done = await reconciler(3600).run_once()  # an hour later
    assert done == [f"{orphan.instance_id}: orphan stopped"]
    assert await any_runtime.state(orphan.instance_id) == "stopped"
    assert await any_runtime.state(live.instance_id) == "running"
    assert await reconciler(3600).run_once() == []  # nothing left to do
    assert restarted == [live.instance_id]
    recorded = await IncidentLog(db).search(limit=10)
    assert sorted((i.app_id, i.kind, i.actor) for i in recorded) == [
        ("live-app", "reconciliation", "reconciler"),
        ("orphan-app", "reconciliation", "reconciler"),
    ]


@pytest.mark.reliability(
    "Reconciliation",
    done="A lost host that returns stops its instances of apps now live elsewhere (fencing)",
)
async def test_a_returning_lost_host_fences_instances_whose_app_lives_elsewhere(
    any_runtime: SandboxRuntime | DockerRuntime, probe_bundle: Path, pyenv: PythonEnv, db: Database
) -> None:
    """Fencing needs no grace period, but only on a host marked lost, and only for apps
    routed to another host; an instance of an app with no route keeps its grace."""
    apps = AppRepository(db)
    for app_id in ("moved-app", "unrouted-app"):
        await apps.ensure(app_id, "alice")
    moved = await _start(any_runtime, probe_bundle, pyenv, app_id="moved-app")
    unrouted = await _start(any_runtime, probe_bundle, pyenv, app_id="unrouted-app")
    hosts = RuntimeHosts(db)
    capacity = HostCapacity(max_apps=4, memory_mib=4096, app_memory_mib=512)
    for name in (any_runtime.host, "other-host"):
        await hosts.register(name, capacity)
    await ReleaseRepository(db).switch(
        app_id="moved-app",
        owner_id="alice",
        version=1,
        instance_id="moved-app-v1",
        socket_path="/elsewhere/moved-app.sock",
        host="other-host",
        reason="moved off a lost host",
        request_id="switch-moved-app-elsewhere",
    )

    async def restart(route: Route, bundle: str) -> InstanceInfo:
        raise AssertionError(f"nothing here is routed, yet {route.instance_id} restarted")

    reconciler = Reconciler(
        any_runtime, ReleaseRepository(db), apps, IncidentLog(db), restart, hosts=hosts
    )
    assert await reconciler.run_once() == []  # an active host: the grace period holds
    assert await any_runtime.state(moved.instance_id) == "running"

    async with db.connection() as conn:
        await conn.execute(
            "UPDATE runtime_hosts SET state = 'lost' WHERE name = %s", (any_runtime.host,)
        )
    done = await reconciler.run_once()
    assert done == [f"{moved.instance_id}: fenced (moved-app is live on other-host)"]
    assert await any_runtime.state(moved.instance_id) == "stopped"
    assert await any_runtime.state(unrouted.instance_id) == "running"  # no route: grace
    route = await ReleaseRepository(db).route("moved-app")
    assert route is not None and route.host == "other-host"  # never routed back
    (incident,) = await IncidentLog(db).search(app_id="moved-app")
    assert (incident.kind, incident.actor) == ("reconciliation", "reconciler")
    assert "fenced" in incident.reason
    await any_runtime.stop(unrouted.instance_id, drain_s=0.0)


def _still_running_unrecorded(runtime: SandboxRuntime | DockerRuntime, instance_id: str) -> bool:
    """Is anything of ``instance_id`` still running, record or not?"""
    if isinstance(runtime, DockerRuntime):
        return any(c == instance_id for c, _ in runtime._labelled_containers())
    return bool(processes_naming(runtime.instance_dir(instance_id) / "sock"))


@pytest.mark.reliability(
    "Reconciliation",
    done=(
        "Start an instance and delete its record, as a worker killed between spawning and "
        "recording it leaves it (both runtimes)"
    ),
)
async def test_reconciliation_kills_what_no_record_accounts_for_but_waits_for_a_start(
    any_runtime: SandboxRuntime | DockerRuntime, probe_bundle: Path, pyenv: PythonEnv, db: Database
) -> None:
    """The sweep kills the unrecorded sandbox or container and records an incident, but not
    while a start holds the instance's lock, and never a recorded running instance."""
    apps = AppRepository(db)
    for app_id in ("stray-app", "kept-app"):
        await apps.ensure(app_id, "alice")
    stray = await _start(any_runtime, probe_bundle, pyenv, app_id="stray-app")
    kept = await _start(any_runtime, probe_bundle, pyenv, app_id="kept-app")
    (any_runtime.instance_dir(stray.instance_id) / "instance.json").unlink()
    assert _still_running_unrecorded(any_runtime, stray.instance_id)

    async def unused_restart(route: Route, bundle: str) -> InstanceInfo:
        raise AssertionError(f"nothing is routed, yet {route} was restarted")

    reconciler = Reconciler(
        any_runtime, ReleaseRepository(db), apps, IncidentLog(db), unused_restart
    )
    async with any_runtime._lock(stray.instance_id):  # a start in progress holds it
        sweeping = asyncio.create_task(reconciler.run_once())
        await asyncio.sleep(1.0)
        assert not sweeping.done()
        assert _still_running_unrecorded(any_runtime, stray.instance_id)
    assert await sweeping == [f"{stray.instance_id}: unrecorded stray killed"]

    assert not _still_running_unrecorded(any_runtime, stray.instance_id)
    assert await any_runtime.state(kept.instance_id) == "running"
    assert await _get(kept, "/health") == {"ok": True}
    assert await reconciler.run_once() == []
    [incident] = await IncidentLog(db).search(limit=10)
    assert (incident.app_id, incident.from_version, incident.kind) == (
        "stray-app",
        1,
        "reconciliation",
    )
    await any_runtime.stop(kept.instance_id, drain_s=0)


@pytest.mark.reliability(
    "Fast and automatic rollback",
    done="Deploy releases into containers and stop them",
)
async def test_docker_keeps_the_images_of_the_last_releases_for_a_fast_rollback(
    docker_base: str, pyenv: PythonEnv, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """The images of the last MB_DOCKER_KEEP_RELEASES releases stay, so a rollback starts without a
    build; older ones are pruned."""
    import docker

    runtime = DockerRuntime(
        tmp_path_factory.mktemp("rt") / "state",
        host="test-host",
        uids=TEST_UIDS,
        memory_mb=MEMORY_MB,
        pids=PIDS,
        cpu=1.0,
        keep_releases=2,
    )
    app_id = f"kept-{uuid.uuid4().hex[:6]}"
    client = docker.from_env()
    previous: InstanceInfo | None = None
    try:
        for version in range(1, 5):  # each release its own bundle, so its own image
            bundle = write_app(
                tmp_path_factory.mktemp("rel") / "app", PROBE_APP + f"\n# release {version}\n"
            )
            info = await runtime.start(
                app_id=app_id,
                version=version,
                bundle_dir=bundle,
                env=pyenv,
                manifest=AppManifest(),
            )
            if previous is not None:
                await runtime.stop(previous.instance_id, drain_s=0)
            previous = info
        images = client.images.list(filters={"label": f"io.microbuilder.app={app_id}"})
        kept = sorted(int(image.labels["io.microbuilder.version"]) for image in images)
        assert kept == [2, 3, 4]  # the live release and the two before it
    finally:
        await runtime.stop_all(drain_s=0)
        for image in client.images.list(filters={"label": f"io.microbuilder.app={app_id}"}):
            client.images.remove(image.id, force=True)

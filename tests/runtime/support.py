"""Shared helpers and fixtures for sandbox tests: a real bundle environment, real bwrap."""

from __future__ import annotations

import json
import os
import socket
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from runtime.base import PythonEnv
from runtime.bwrap import Bind, SandboxSpec, python_env_binds
from runtime.docker import DockerRuntime
from runtime.envs import EnvBuilder
from runtime.limits import ResourceLimits
from runtime.sandbox import SandboxRuntime
from runtime.sandbox_run import SandboxRun, run_sandboxed, sandbox_env
from runtime.uids import UidPool
from store.bundles import make_bundle, write_bundle

_XDIST_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
_SLOT = int(_XDIST_WORKER.removeprefix("gw")) + 1 if _XDIST_WORKER.startswith("gw") else 0
TEST_UIDS = UidPool(
    Path(tempfile.gettempdir()) / f"mb-test-uids-{_SLOT}",
    base=1_899_000_000 + _SLOT * 4096,
    count=4096,
)
"""The uids the tests' runtimes and QA runs lease: one directory for every session on this
machine (concurrent sessions never share a uid), and a range of its own for each xdist
worker, so that what a test finds running as these uids is its own worker's."""
LEASED_UIDS = range(TEST_UIDS.base, TEST_UIDS.base + TEST_UIDS.count)

APP_MAIN = """
import asyncio
import os
import socket
from pathlib import Path

from fastapi import FastAPI

app = FastAPI()
DATA = Path(os.environ["MICROAPP_DATA_DIR"])


@app.get("/health")
def health() -> dict:
    return {"ok": True}


@app.post("/notes/{text}")
def add_note(text: str) -> dict:
    with (DATA / "notes.txt").open("a") as f:
        f.write(text + "\\n")
    return {"notes": (DATA / "notes.txt").read_text().split()}


@app.get("/slow")
async def slow(s: float = 1.0) -> dict:
    await asyncio.sleep(s)
    return {"slept": s}


@app.get("/whoami")
def whoami() -> dict:
    return {"uid": os.getuid(), "gid": os.getgid(), "env": dict(os.environ)}


@app.get("/net")
def net(port: int) -> dict:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    except OSError as exc:
        return {"connected": False, "error": type(exc).__name__}
    return {"connected": True}
"""

APP_TEST = """
def test_placeholder():
    assert True
"""


@pytest.fixture(scope="session")
async def pyenv(tmp_path_factory: pytest.TempPathFactory) -> PythonEnv:
    """The bundle environment (fastapi + platform packages), built once per session."""
    return await EnvBuilder(tmp_path_factory.getbasetemp() / "mb-envs").ensure("fastapi\n")


def write_app(root: Path, main: str = APP_MAIN) -> Path:
    """Write a bundle with ``main`` as its main.py; returns its directory."""
    bundle = make_bundle(
        {"main.py": main, "requirements.txt": "fastapi\n", "tests/test_main.py": APP_TEST}
    )
    return write_bundle(bundle, root)


@pytest.fixture(scope="session")
def docker_base(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The base image, built from Debian packages when the engine lacks it, the way a
    worker's first start builds it (CI removes it first, so this path runs every time)."""
    runtime = DockerRuntime(
        tmp_path_factory.mktemp("base"), host="base", uids=TEST_UIDS, memory_mb=64, pids=16, cpu=1
    )
    runtime.ensure_base_image(lambda _step: None)
    return runtime.base_image


@pytest.fixture(scope="session")
def app_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_app(tmp_path_factory.mktemp("bundle") / "app")


def make_runtime(state_dir: Path) -> SandboxRuntime:
    return SandboxRuntime(
        state_dir,
        host="test-host",
        uids=TEST_UIDS,
        memory_mb=256,
        pids=64,
        cpu=1.0,
    )


@pytest.fixture
async def state_dir(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Path]:
    """A short state dir (unix socket paths are limited); every instance stopped afterwards."""
    path = tmp_path_factory.mktemp("rt") / "state"
    yield path
    runtime = make_runtime(path)
    for info in await runtime.instances():
        await runtime.stop(info.instance_id, drain_s=0)


@pytest.fixture
def runtime(state_dir: Path) -> SandboxRuntime:
    return make_runtime(state_dir)


@pytest.fixture
def host_listener() -> Iterator[socket.socket]:
    """A TCP listener on the host's 127.0.0.1 that sandboxed code must not reach."""
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    server.setblocking(False)
    yield server
    server.close()


def accepted_nothing(server: socket.socket) -> bool:
    """True when no connection ever completed to ``server`` (its backlog is empty)."""
    try:
        conn, _ = server.accept()
    except BlockingIOError:
        return True
    conn.close()
    return False


@dataclass
class ProbeResult:
    run: SandboxRun
    output: str
    uid: int
    """The uid the probe ran as (leased for it, as a QA run's)."""

    @property
    def data(self) -> Any:
        """The JSON the probe printed on its last line."""
        return json.loads(self.output.strip().splitlines()[-1])


SandboxedPython = Callable[..., Awaitable[ProbeResult]]


@pytest.fixture
def sandboxed_python(pyenv: PythonEnv, tmp_path: Path) -> SandboxedPython:
    """Run Python source in the sandbox the QA runs use (bundle read-only at /app)."""
    counter = iter(range(1000))

    async def run(
        code: str,
        *,
        limits: ResourceLimits | None = None,
        timeout_s: float = 60.0,
        world_writable_app: bool = False,
    ) -> ProbeResult:
        work = tmp_path / f"probe-{next(counter)}"
        app = work / "app"
        app.mkdir(parents=True)
        (app / "probe.py").write_text(code)
        if world_writable_app:  # so that only the read-only mount can stop a write
            app.chmod(0o777)
            (app / "probe.py").chmod(0o666)
        limits = limits or ResourceLimits(memory_mb=256, pids=64, cpu=1.0)
        log = work / "output.log"
        async with TEST_UIDS.lease(f"run.probe-{uuid.uuid4().hex}") as uid:
            spec = SandboxSpec(
                command=("/env/bin/python", "/app/probe.py"),
                uid=uid,
                gid=uid,
                ro_binds=(*python_env_binds(pyenv), Bind(app, "/app")),
                env=sandbox_env(),
                chdir="/app",
                tmp_size_mb=limits.memory_mb,
            )
            result = await run_sandboxed(spec, limits=limits, log_path=log, timeout_s=timeout_s)
        return ProbeResult(run=result, output=log.read_text(), uid=uid)

    return run


def processes_of_uid(uid: int | range, started_after: float | None = None) -> list[int]:
    """Host pids running as ``uid`` or any uid of a range (optionally only those started
    after a time.time())."""
    ticks = os.sysconf("SC_CLK_TCK")
    boot = time.time() - time.clock_gettime(time.CLOCK_BOOTTIME)
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            status = Path(entry.path, "status").read_bytes().decode(errors="replace")
            raw = Path(entry.path, "stat").read_bytes().decode(errors="replace")
            stat = raw.rsplit(")", 1)[1].split()
        except OSError:
            continue
        uids = next(line.split()[1:] for line in status.splitlines() if line.startswith("Uid:"))
        wanted = uid if isinstance(uid, range) else range(uid, uid + 1)
        if not any(int(u) in wanted for u in uids) or stat[0] in ("Z", "X"):
            continue
        if started_after is not None and boot + int(stat[19]) / ticks < started_after - 1:
            continue
        found.append(int(entry.name))
    return found


SYSCALL_PROBE = '''
def syscall_probe() -> dict:
    """What each escalation syscall returns here (errno name, or "succeeded"), each tried in
    a child process of its own so that one that succeeds changes nothing for the next."""
    import ctypes, errno, os, socket, struct, threading, time

    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    buf = ctypes.create_string_buffer(256)
    timespec = struct.pack("qq", int(time.time()), 0)
    tracee = os.fork()
    if tracee == 0:
        time.sleep(30)
        os._exit(0)

    def raw(nr, *args):
        args = [a if isinstance(a, (bytes, ctypes.Array)) else ctypes.c_long(a) for a in args]
        result = libc.syscall(ctypes.c_long(nr), *args)
        if result < 0:
            return errno.errorcode.get(ctypes.get_errno(), str(ctypes.get_errno()))
        if nr == 56 and result == 0:  # the child of a clone that went through
            os._exit(0)
        return "succeeded"

    probes = {  # x86_64 syscall numbers
        "unshare(CLONE_NEWUSER)": (272, 0x10000000),
        "unshare(CLONE_NEWNS)": (272, 0x00020000),
        "unshare(CLONE_NEWNET)": (272, 0x40000000),
        "clone(CLONE_NEWUSER)": (56, 0x10000000 | 17, 0, 0, 0, 0),
        "setns": (308, -1, 0x40000000),
        "mount": (165, b"none", b"/tmp", b"tmpfs", 0, 0),
        "keyctl": (250, 0, -2, 1),  # the process keyring: nothing outlives the probe
        "add_key": (248, b"user", b"mb-probe", b"x", 1, -2),
        "bpf": (321, 0, buf, 72),
        "perf_event_open": (298, buf, 0, -1, -1, 0),
        "ptrace(PTRACE_ATTACH)": (101, 16, tracee, 0, 0),
        "init_module": (175, 0, 0, b""),
        "finit_module": (313, -1, b"", 0),
        "clock_settime": (227, 0, timespec),
        "socket(AF_VSOCK)": (41, 40, 1, 0),
        "clone3": (435, 0, 0),
    }
    seen = {}
    for name, (nr, *args) in probes.items():
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(read)
            os.write(write, raw(nr, *args).encode())
            os._exit(0)
        os.close(write)
        with os.fdopen(read) as answer:
            seen[name] = answer.read()
        os.waitpid(pid, 0)
    os.kill(tracee, 9)
    os.waitpid(tracee, 0)

    # What normal code needs still works: threads, fork, a subprocess.
    threads = [threading.Thread(target=time.sleep, args=(0.05,)) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seen["threads"] = "succeeded"
    child = os.fork()
    if child == 0:
        os._exit(7)
    seen["fork"] = "succeeded" if os.waitstatus_to_exitcode(os.waitpid(child, 0)[1]) == 7 else "?"
    seen["socketpair"] = "succeeded" if socket.socketpair() else "?"
    return seen
'''
"""Source of ``syscall_probe()``, run inside the sandboxes by the seccomp tests."""

SYSCALLS_REFUSED = {
    "unshare(CLONE_NEWUSER)": "EPERM",
    "unshare(CLONE_NEWNS)": "EPERM",
    "unshare(CLONE_NEWNET)": "EPERM",
    "clone(CLONE_NEWUSER)": "EPERM",
    "setns": "EPERM",
    "mount": "EPERM",
    "keyctl": "EPERM",
    "add_key": "EPERM",
    "bpf": "EPERM",
    "perf_event_open": "EPERM",
    "ptrace(PTRACE_ATTACH)": "EPERM",
    "init_module": "EPERM",
    "finit_module": "EPERM",
    "clock_settime": "EPERM",
    "socket(AF_VSOCK)": "EPERM",
    "clone3": "ENOSYS",  # as Docker does: libc then falls back to clone, whose flags are checked
    "threads": "succeeded",
    "fork": "succeeded",
    "socketpair": "succeeded",
}
"""What ``syscall_probe()`` must see in every sandbox."""

"""What sandboxed code cannot do: each test plants something on the host and looks for it.

Most tests run a probe script in the sandbox the QA runs use (the same
builder, limits and launcher as app instances); the network and environment
tests also check a deployed app instance.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import time
import uuid
from pathlib import Path

import httpx
import pytest

from runtime.base import PythonEnv
from runtime.bwrap import (
    SandboxSpec,
    SandboxUnavailable,
    build_argv,
    find_bwrap,
    python_env_binds,
)
from runtime.limits import ResourceLimits
from runtime.sandbox import SandboxRuntime
from schemas.bundle import AppManifest
from tests.runtime.support import (
    LEASED_UIDS,
    TEST_UIDS,
    SandboxedPython,
    accepted_nothing,
    processes_of_uid,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


async def get_json(socket_path: str, path: str) -> object:
    transport = httpx.AsyncHTTPTransport(uds=socket_path)
    async with httpx.AsyncClient(transport=transport, timeout=10) as client:
        response = await client.get(f"http://app{path}")
        response.raise_for_status()
        return response.json()


async def test_cannot_connect_to_host_loopback(
    sandboxed_python: SandboxedPython, host_listener: socket.socket
) -> None:
    port = host_listener.getsockname()[1]
    probe = await sandboxed_python(
        f"""
import json, socket
result = {{"interfaces": [name for _, name in socket.if_nameindex()]}}
for host in ("127.0.0.1", "localhost", "::1"):
    try:
        socket.create_connection((host, {port}), timeout=2).close()
        result[host] = "connected"
    except OSError as exc:
        result[host] = type(exc).__name__
print(json.dumps(result))
"""
    )
    data = probe.data
    assert data["127.0.0.1"] == "ConnectionRefusedError", probe.output
    assert data["::1"] != "connected" and data["localhost"] != "connected", probe.output
    assert data["interfaces"] == ["lo"], "the sandbox must have only its own loopback"
    assert accepted_nothing(host_listener), "a sandboxed connection reached the host listener"


async def test_deployed_app_cannot_connect_to_host_loopback(
    runtime: SandboxRuntime,
    app_bundle: Path,
    pyenv: PythonEnv,
    host_listener: socket.socket,
) -> None:
    port = host_listener.getsockname()[1]
    info = await runtime.start(
        app_id="netprobe",
        version=1,
        bundle_dir=app_bundle,
        env=pyenv,
        manifest=AppManifest(),
    )
    result = await get_json(info.socket_path, f"/net?port={port}")
    assert result == {"connected": False, "error": "ConnectionRefusedError"}
    assert accepted_nothing(host_listener)


async def test_cannot_read_files_it_was_not_given(
    sandboxed_python: SandboxedPython, tmp_path: Path
) -> None:
    secret = f"planted-{uuid.uuid4().hex}"
    in_tmp = tmp_path / "host-secret.txt"
    in_tmp.write_text(secret)
    in_tmp.chmod(0o644)  # readable by anyone on the host: only the mount namespace hides it
    in_root = Path(f"/root/mb-planted-{uuid.uuid4().hex}.txt")
    in_root.write_text(secret)
    try:
        probe = await sandboxed_python(
            f"""
import json, os
result = {{}}
for path in ({str(in_tmp)!r}, {str(in_root)!r}, "/etc/shadow", "/etc/passwd",
             {str(Path.cwd() / "pyproject.toml")!r}):
    try:
        with open(path) as f:
            result[path] = "read:" + f.read()
    except OSError as exc:
        result[path] = type(exc).__name__
result["root_entries"] = sorted(os.listdir("/root"))
result["sys_exists"] = os.path.exists("/sys")
print(json.dumps(result))
"""
        )
    finally:
        in_root.unlink()
    data = probe.data
    assert secret not in probe.output
    for path in (str(in_tmp), str(in_root), "/etc/shadow", "/etc/passwd"):
        assert data[path] in ("FileNotFoundError", "PermissionError"), (path, data[path])
    assert data[str(Path.cwd() / "pyproject.toml")] == "FileNotFoundError"
    assert data["root_entries"] == [".pyenv"], "only the path to the base interpreter"
    assert data["sys_exists"] is False


async def test_host_environment_does_not_leak(
    sandboxed_python: SandboxedPython,
    monkeypatch: pytest.MonkeyPatch,
    runtime: SandboxRuntime,
    app_bundle: Path,
    pyenv: PythonEnv,
) -> None:
    value = f"secret-{uuid.uuid4().hex}"
    monkeypatch.setenv("MB_PLANTED_SECRET", value)
    probe = await sandboxed_python("import json, os\nprint(json.dumps(dict(os.environ)))\n")
    assert "MB_PLANTED_SECRET" not in probe.data
    assert value not in probe.output
    assert set(probe.data) <= {
        "PATH",
        "HOME",
        "TMPDIR",
        "LANG",
        "PYTHONUNBUFFERED",
        "LC_CTYPE",
        "PWD",
    }

    info = await runtime.start(
        app_id="envprobe",
        version=1,
        bundle_dir=app_bundle,
        env=pyenv,
        manifest=AppManifest(),
        secrets={"APP_SETTING": "given"},
    )
    env = await get_json(info.socket_path, "/whoami")
    assert isinstance(env, dict)
    assert "MB_PLANTED_SECRET" not in env["env"]
    assert env["env"]["APP_SETTING"] == "given"
    assert env["env"]["MICROAPP_DATA_DIR"] == "/data"


async def test_runs_as_unprivileged_user_without_capabilities(
    sandboxed_python: SandboxedPython,
) -> None:
    probe = await sandboxed_python(
        """
import json, os
status = dict(line.split(":\\t", 1) for line in open("/proc/self/status").read().splitlines())
result = {k: status[k].strip() for k in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb",
                                         "NoNewPrivs")}
result["ids"] = [os.getuid(), os.geteuid(), os.getgid(), os.getegid()]
result["groups"] = os.getgroups()
try:
    os.setuid(0)
    result["setuid0"] = "succeeded"
except PermissionError:
    result["setuid0"] = "PermissionError"
print(json.dumps(result))
"""
    )
    data = probe.data
    assert probe.uid in LEASED_UIDS and data["ids"] == [probe.uid] * 4
    assert data["groups"] == []
    for cap in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
        assert int(data[cap], 16) == 0, (cap, data[cap])
    assert data["NoNewPrivs"] == "1"
    assert data["setuid0"] == "PermissionError"


async def test_filesystem_is_read_only_except_tmp(sandboxed_python: SandboxedPython) -> None:
    probe = await sandboxed_python(
        """
import errno, json
result = {}
for path in ("/app/new.txt", "/app/probe.py", "/usr/new.txt", "/env/new.txt", "/new.txt",
             "/root/.pyenv/new.txt", "/tmp/new.txt"):
    try:
        with open(path, "a") as f:
            f.write("x")
        result[path] = "written"
    except OSError as exc:
        result[path] = errno.errorcode[exc.errno]
print(json.dumps(result))
""",
        world_writable_app=True,
    )
    data = probe.data
    assert data.pop("/tmp/new.txt") == "written"
    # /app is writable by anyone on the host: only the read-only bind stops the write.
    assert data.pop("/app/new.txt") == "EROFS"
    assert data.pop("/app/probe.py") == "EROFS"
    for path, outcome in data.items():
        assert outcome in ("EROFS", "EACCES"), (path, outcome)


async def test_sees_only_its_own_processes_and_file_descriptors(
    sandboxed_python: SandboxedPython,
) -> None:
    probe = await sandboxed_python(
        """
import json, os
print(json.dumps({
    "pids": sorted(int(p) for p in os.listdir("/proc") if p.isdigit()),
    "self": os.getpid(),
    "init": open("/proc/1/cmdline", "rb").read().split(b"\\0")[0].decode(),
    "fds": sorted(int(fd) for fd in os.listdir("/proc/self/fd")),
    "hostname": os.uname().nodename,
}))
"""
    )
    data = probe.data
    assert data["pids"] == [1, data["self"]], "only the sandbox's init and the probe itself"
    assert data["self"] == 2
    assert data["init"].endswith("bwrap")
    assert data["fds"] == [0, 1, 2, 3], "no host file descriptor (e.g. bwrap's info fd) leaks in"
    assert data["hostname"] == "sandbox"


@pytest.mark.parametrize("use_cgroups", [True, False], ids=["cgroups", "rlimits-only"])
async def test_fork_bomb_is_contained(sandboxed_python: SandboxedPython, use_cgroups: bool) -> None:
    started = time.time()
    limit = 32
    probe = await sandboxed_python(
        """
import json, os, time
start, me, errors, last = time.monotonic(), os.getpid(), 0, None
while time.monotonic() - start < 2:  # every process keeps forking: exponential
    try:
        os.fork()
    except OSError as exc:
        errors, last = errors + 1, exc.errno
        time.sleep(0.01)
if os.getpid() != me:
    time.sleep(60)
    os._exit(0)
procs = [p for p in os.listdir("/proc") if p.isdigit()]
print(json.dumps({"procs": len(procs), "errors": errors, "errno": last}))
""",
        limits=ResourceLimits(memory_mb=256, pids=limit, cpu=1.0, use_cgroups=use_cgroups),
        timeout_s=30,
    )
    assert ("pids" in probe.run.limits.controllers) is use_cgroups or not use_cgroups
    data = probe.data
    assert data["errors"] > 0 and data["errno"] == 11, data  # EAGAIN: the limit stopped it
    assert data["procs"] <= limit + 1, data  # + the sandbox's init (root, not counted)
    assert probe.run.duration_s < 15
    # The host is fine: it can start processes, and nothing of the bomb survived.
    true = await asyncio.create_subprocess_exec("true")
    assert await asyncio.wait_for(true.wait(), timeout=5) == 0
    assert processes_of_uid(LEASED_UIDS, started_after=started) == []


@pytest.mark.parametrize("use_cgroups", [True, False], ids=["cgroups", "rlimits-only"])
async def test_memory_hog_is_stopped(sandboxed_python: SandboxedPython, use_cgroups: bool) -> None:
    probe = await sandboxed_python(
        """
chunks = []
for i in range(64):  # 64 x 16 MiB = 1 GiB, far above the limit
    chunks.append(b"x" * (16 << 20))
    print("allocated", (i + 1) * 16, "MiB", flush=True)
print("survived")
""",
        limits=ResourceLimits(memory_mb=64, pids=64, cpu=1.0, use_cgroups=use_cgroups),
        timeout_s=30,
    )
    assert "survived" not in probe.output
    allocated = [int(line.split()[1]) for line in probe.output.splitlines() if "allocated" in line]
    if "memory" in probe.run.limits.controllers:
        # The kernel's OOM killer ends the hog at the cgroup's limit.
        assert probe.run.exit_code == 128 + signal.SIGKILL, probe.run
        assert max(allocated, default=0) <= 64
    else:
        # RLIMIT_AS (2 x budget + 256 MiB of headroom for reserved address space).
        assert not use_cgroups or probe.run.limits.mechanism == "rlimit"
        assert "MemoryError" in probe.output, probe.output[-500:]
        assert max(allocated, default=0) <= 2 * 64 + 256


async def test_processes_are_in_the_instance_cgroup(
    runtime: SandboxRuntime, app_bundle: Path, pyenv: PythonEnv
) -> None:
    info = await runtime.start(
        app_id="cgprobe",
        version=1,
        bundle_dir=app_bundle,
        env=pyenv,
        manifest=AppManifest(),
    )
    record = await runtime.record(info.instance_id)
    assert record is not None
    if record.limits.mechanism == "rlimit":
        pytest.skip("no writable cgroup hierarchy on this host: " + record.limits.summary())
    for path in record.limits.cgroups:
        procs = {int(p) for p in Path(path, "cgroup.procs").read_text().split()}
        assert {record.bwrap_pid, record.init_pid} <= procs, path
        assert len(procs) == 3, "bwrap, its init and uvicorn; nothing else"
    for path in record.limits.cgroups:
        p = Path(path)
        if (p / "memory.limit_in_bytes").exists():
            assert int((p / "memory.limit_in_bytes").read_text()) == 256 * 1024 * 1024
        if (p / "pids.max").exists():
            assert (p / "pids.max").read_text().strip() == str(64 + 2)
        if (p / "cpu.cfs_quota_us").exists():
            assert (p / "cpu.cfs_quota_us").read_text().strip() == "100000"


async def test_bwrap_itself_clears_the_environment(pyenv: PythonEnv, tmp_path: Path) -> None:
    """Even if the launcher passed the whole host environment on, --clearenv drops it."""
    value = f"secret-{uuid.uuid4().hex}"
    async with TEST_UIDS.lease(f"run.{uuid.uuid4().hex}") as uid:
        spec = SandboxSpec(
            command=("/env/bin/python", "-c", "import os; print(sorted(os.environ))"),
            uid=uid,
            gid=uid,
            ro_binds=python_env_binds(pyenv),
            env={"ONLY": "this"},
        )
        proc = await asyncio.create_subprocess_exec(
            *build_argv(spec),
            env={**os.environ, "MB_PLANTED_SECRET": value},
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        out, _ = await asyncio.wait_for(proc.communicate(), timeout=30)
    assert proc.returncode == 0, out
    assert value.encode() not in out and b"MB_PLANTED_SECRET" not in out
    assert out.decode().strip() in ("['LC_CTYPE', 'ONLY', 'PWD']", "['ONLY', 'PWD']")


def test_missing_bwrap_is_refused_clearly(tmp_path: Path) -> None:
    with pytest.raises(SandboxUnavailable, match=r"apt-get install bubblewrap"):
        find_bwrap(str(tmp_path))


async def test_unprivileged_path_runs_in_a_user_namespace() -> None:
    """The non-root path, run as an unprivileged caller (uid 65534 on the host)."""
    script = "id -u; id -g; grep CapEff /proc/self/status; cat /proc/net/dev; echo --; ls /proc"
    spec = SandboxSpec(command=("/bin/sh", "-c", script), uid=1234, gid=1234)
    argv = build_argv(spec, privileged=False)
    assert "--unshare-all" in argv and "--unshare-user" in argv
    assert not any("setpriv" in a for a in argv) and "--cap-add" not in argv
    privileged = build_argv(spec, privileged=True)
    assert "--unshare-user" not in privileged and "--unshare-all" not in privileged
    assert any(a.endswith("setpriv") for a in privileged)

    proc = await asyncio.create_subprocess_exec(
        "setpriv",
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
        "--",
        *argv,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        cwd="/",
    )
    out = (await asyncio.wait_for(proc.communicate(), timeout=30))[0].decode()
    if proc.returncode != 0 and "namespace" in out:
        pytest.skip(f"unprivileged user namespaces are disabled here: {out.strip()}")
    lines = out.splitlines()
    assert proc.returncode == 0, out
    assert lines[:2] == ["1234", "1234"]
    assert int(lines[2].split()[1], 16) == 0, "no capabilities"
    net, procs = lines[3 : lines.index("--")], lines[lines.index("--") + 1 :]
    assert [line.split(":")[0].strip() for line in net if ":" in line] == ["lo"], out
    pids = sorted(int(e) for e in procs if e.isdigit())
    assert pids[0] == 1 and len(pids) == 3, f"own pid namespace (init, sh, ls): {pids}"


async def test_sandbox_dies_on_timeout_with_everything_inside(
    sandboxed_python: SandboxedPython,
) -> None:
    started = time.time()
    probe = await sandboxed_python(
        "import os, time\nif os.fork() == 0:\n    time.sleep(1000)\ntime.sleep(1000)\n",
        timeout_s=2,
    )
    assert (
        probe.run.timed_out
    )  # (had the kill failed, the 1,000 s sleep would outlast pytest's timeout)
    assert processes_of_uid(LEASED_UIDS, started_after=started) == []

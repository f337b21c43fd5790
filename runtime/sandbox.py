"""The bubblewrap runtime: app instances and one-shot runs in an isolated sandbox.

Process tree of one sandbox, as seen from the host::

    worker
     └─ sh -> prlimit -> bwrap   (root, one pid: "bwrap pid"; the sh joins the
         │                        cgroups, prlimit sets the rlimits, each execs the next)
         └─ bwrap init            (root; pid 1 of the sandbox: "init pid")
             └─ setpriv -> python ...   (the app's or run's own uid, no capabilities,
                                         under the seccomp filter of runtime.seccomp)

Killing the init pid with SIGKILL makes the kernel kill every process in
the sandbox's pid namespace, so that is how a sandbox is stopped for sure.
A graceful stop sends SIGTERM to the init's children (uvicorn drains).

App instances outlive the worker that started them: bwrap runs in its own
session without ``--die-with-parent``, and everything needed to find and
stop an instance later (pids with their start times, cgroups, socket) is
kept on disk under ``state_dir/instances/<instance_id>/``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import signal
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from runtime.base import PythonEnv, instance_id_for
from runtime.bwrap import (
    ENV_MOUNT,
    SANDBOX_TMP,
    Bind,
    SandboxSpec,
    build_argv,
    python_env_binds,
    spawn_environment,
)
from runtime.limits import (
    AppliedLimits,
    ResourceLimits,
    apply_limits,
    launcher_argv,
    remove_cgroups,
)
from runtime.records import (
    InstanceRecordBase,
    InstanceRecords,
    RecordedRuntime,
    check_env_names,
    check_id,
)
from runtime.seccomp import program_fd
from runtime.uids import UidPool, app_holder
from schemas.bundle import AppManifest
from schemas.runtime import InstanceInfo

log = logging.getLogger(__name__)

APP_MOUNT = "/app"
DATA_MOUNT = "/data"
SOCKET_MOUNT = "/run/app"
SOCKET_NAME = "app.sock"
MAX_SOCKET_PATH = 107
"""sun_path holds 108 bytes including the terminating NUL."""

# The environment of the host-side launcher (sh, prlimit, bwrap); bwrap clears it for the sandbox.


class SandboxStartError(RuntimeError):
    """The sandbox could not be created (a host problem: worth retrying)."""


class AppStartError(SandboxStartError):
    """The app did not come up: it exited during startup or never opened its socket.

    The bundle's fault (retrying will not help); the message ends with the
    tail of the app's log.
    """


@dataclass(frozen=True)
class SandboxRun:
    """The outcome of :func:`run_sandboxed`."""

    exit_code: int
    """The command's exit status (negative: bwrap was killed by that signal)."""
    timed_out: bool
    duration_s: float
    limits: AppliedLimits


class InstanceRecord(InstanceRecordBase):
    """What is kept on disk about one sandboxed instance (``instance.json``)."""

    bwrap_pid: int
    bwrap_start: int
    init_pid: int
    init_start: int
    """Start time (clock ticks since boot) of the init pid: guards against pid reuse."""
    limits: AppliedLimits
    log_path: str

    def info(self) -> InstanceInfo:
        """The public view of the instance, with its init pid."""
        return super().info().model_copy(update={"pid": self.init_pid})


def sandbox_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The complete environment of a sandboxed Python process (nothing from the host)."""
    env = {
        "PATH": f"{ENV_MOUNT}/bin:/usr/bin:/bin",
        "HOME": SANDBOX_TMP,
        "TMPDIR": SANDBOX_TMP,
        "LANG": "C.UTF-8",
        "PYTHONUNBUFFERED": "1",
    }
    env.update(extra or {})
    return env


async def run_sandboxed(
    spec: SandboxSpec,
    *,
    limits: ResourceLimits,
    log_path: Path,
    timeout_s: float,
    heartbeat: Callable[[float], None] | None = None,
    heartbeat_interval_s: float = 5.0,
) -> SandboxRun:
    """Run ``spec`` to completion (or ``timeout_s``) with stdout/stderr in ``log_path``.

    The sandbox dies with the worker (``--die-with-parent``); on timeout or
    cancellation the whole sandbox is killed and its cgroup removed.
    ``heartbeat`` receives the elapsed seconds every ``heartbeat_interval_s``.
    """
    spec = replace(spec, die_with_parent=True)
    applied = await asyncio.to_thread(apply_limits, f"run-{uuid.uuid4().hex[:16]}", limits)
    started = time.monotonic()
    proc: asyncio.subprocess.Process | None = None
    init: tuple[int, int] | None = None
    timed_out = False
    try:
        log_fd = await asyncio.to_thread(_open_log, log_path)
        try:
            proc, init = await _spawn(spec, applied, log_fd=log_fd)
        finally:
            os.close(log_fd)
        wait = asyncio.ensure_future(proc.wait())
        deadline = started + timeout_s
        while not wait.done():
            left = deadline - time.monotonic()
            if left <= 0:
                timed_out = True
                break
            await asyncio.wait({wait}, timeout=min(left, heartbeat_interval_s))
            if heartbeat is not None and not wait.done():
                heartbeat(time.monotonic() - started)
        if timed_out:
            await _kill_sandbox(proc, init)
        exit_code = await wait
        if init is not None:
            # bwrap exits as soon as its command does, while the kernel may still be
            # killing the rest of the pid namespace: wait until the sandbox is empty.
            await _wait_dead(init, 5.0)
    finally:
        if proc is not None and proc.returncode is None:  # cancelled: take the sandbox down too
            await asyncio.shield(_kill_sandbox(proc, init))
        await asyncio.shield(asyncio.to_thread(remove_cgroups, applied.cgroups))
    return SandboxRun(
        exit_code=exit_code,
        timed_out=timed_out,
        duration_s=time.monotonic() - started,
        limits=applied,
    )


class SandboxRuntime(RecordedRuntime[InstanceRecord]):
    """App instances in bubblewrap sandboxes, served by uvicorn on a unix socket.

    Inside the sandbox: the bundle read-only at ``/app``, the bundle's
    virtualenv read-only at ``/env``, a per-app persistent directory at
    ``/data`` (``MICROAPP_DATA_DIR``), the socket directory at ``/run/app``,
    a private ``/tmp``, no network, no host environment, the app's own uid
    (leased from ``uids``; its data directory is chowned to it should it
    change) without capabilities, the seccomp filter of
    :mod:`runtime.seccomp`, and the memory/pids/cpu limits of
    :mod:`runtime.limits`.
    """

    def __init__(
        self,
        state_dir: Path,
        *,
        host: str,
        uids: UidPool,
        memory_mb: int,
        pids: int,
        cpu: float,
        data_root: Path | None = None,
        start_timeout_s: float = 30.0,
        kill_grace_s: float = 2.0,
        graceful_shutdown_s: int = 30,
        use_cgroups: bool = True,
    ) -> None:
        self.host = host
        self.state_dir = state_dir.resolve()
        self._records = InstanceRecords(self.state_dir, InstanceRecord)
        self.data_root = (data_root or self.state_dir.parent / "appdata").resolve()
        self.uids = uids
        self.limits = ResourceLimits(
            memory_mb=memory_mb, pids=pids, cpu=cpu, use_cgroups=use_cgroups
        )
        self.start_timeout_s = start_timeout_s
        self.kill_grace_s = kill_grace_s
        self.graceful_shutdown_s = graceful_shutdown_s
        """uvicorn's own bound on draining, should a stop never escalate (worker died)."""
        self._procs: dict[str, asyncio.subprocess.Process] = {}

    # -- the Runtime protocol ------------------------------------------------

    async def start(
        self,
        *,
        app_id: str,
        version: int,
        bundle_dir: Path,
        env: PythonEnv,
        manifest: AppManifest,
        env_vars: dict[str, str],
        secrets: Mapping[str, str] | None = None,
        generation: int = 0,
    ) -> InstanceInfo:
        """Start the instance, or return it if it is already running (idempotent)."""
        check_id(app_id)
        instance_id = instance_id_for(app_id, version, generation)
        check_id(instance_id)
        secrets = dict(secrets or {})
        check_env_names((*env_vars, *secrets))
        async with self._lock(instance_id):
            record = await asyncio.to_thread(self._load, instance_id)
            if record is not None and record.stopped_at is None:
                if await asyncio.to_thread(_alive_and_serving, record):
                    return record.info()
                log.info("instance %s: cleaning up a dead or broken leftover", instance_id)
                await self._teardown(record, drain_s=0.0)
            await self._kill_strays(instance_id)
            uid = await self.uids.acquire(app_holder(app_id))
            record = await self._launch(
                instance_id=instance_id,
                uid=uid,
                app_id=app_id,
                version=version,
                bundle_dir=bundle_dir.resolve(),
                env=env,
                manifest=manifest,
                env_vars=env_vars,
                secrets=secrets,
            )
            return record.info()

    async def stop(self, instance_id: str, *, drain_s: float = 1.0) -> None:
        """SIGTERM the app, wait ``drain_s`` + grace, then kill the sandbox; idempotent."""
        check_id(instance_id)
        async with self._lock(instance_id):
            record = await asyncio.to_thread(self._load, instance_id)
            if record is not None and record.stopped_at is None:
                await self._teardown(record, drain_s=drain_s)

    async def _kill_strays(self, instance_id: str) -> None:
        """Kill sandboxes of ``instance_id`` that no record knows of.

        A worker killed between spawning bwrap and saving the record leaves a
        running sandbox behind; a retried start would otherwise launch a second
        one beside it. Both bwrap and the sandbox's init carry the socket
        directory in their command line, so they are found by it; killing the
        init ends everything in its pid namespace.
        """
        strays = await asyncio.to_thread(_processes_naming, self.instance_dir(instance_id) / "sock")
        if not strays:
            return
        log.warning("instance %s: killing %d stray sandbox processes", instance_id, len(strays))
        for proc in strays:
            await asyncio.to_thread(_signal, *proc, signal.SIGKILL)
        for proc in strays:
            await _wait_dead(proc, 5.0)

    async def sweep_strays(self) -> list[str]:
        """Kill sandboxes that no running record accounts for; returns their instance ids.

        The periodic counterpart of a retried start's clean-up, for the start that
        is never retried (its deployment failed or was cancelled meanwhile). Each
        instance is checked under its lock, so a start in progress (which holds
        it from spawning until its record is saved) is left alone.
        """
        named = await asyncio.to_thread(_instances_named_under, self._records.root)
        swept = []
        for instance_id in sorted(named):
            async with self._lock(instance_id):
                record = await asyncio.to_thread(self._load, instance_id)
                if record is not None and record.stopped_at is None and self._is_running(record):
                    continue
                await self._kill_strays(instance_id)
                swept.append(instance_id)
        return swept

    def _is_running(self, record: InstanceRecord) -> bool:
        return _alive(record.init_pid, record.init_start)

    # -- internals -----------------------------------------------------------

    async def _launch(
        self,
        *,
        instance_id: str,
        uid: int,
        app_id: str,
        version: int,
        bundle_dir: Path,
        env: PythonEnv,
        manifest: AppManifest,
        env_vars: dict[str, str],
        secrets: dict[str, str],
    ) -> InstanceRecord:
        inst = self.instance_dir(instance_id)
        sock_dir = inst / "sock"
        socket_path = sock_dir / SOCKET_NAME
        if len(str(socket_path)) > MAX_SOCKET_PATH:
            raise ValueError(
                f"socket path {socket_path} is longer than {MAX_SOCKET_PATH} bytes: "
                "use a shorter state_dir"
            )
        data_dir = self.data_root / app_id
        log_path = inst / "app.log"
        await asyncio.to_thread(_prepare_dirs, inst, sock_dir, data_dir, log_path, uid)
        python_binds = await asyncio.to_thread(python_env_binds, env)

        spec = SandboxSpec(
            command=(
                f"{ENV_MOUNT}/bin/python",
                "-m",
                "uvicorn",
                "--uds",
                f"{SOCKET_MOUNT}/{SOCKET_NAME}",
                "--app-dir",
                APP_MOUNT,
                "--no-access-log",
                "--timeout-graceful-shutdown",
                str(self.graceful_shutdown_s),
                manifest.entrypoint,
            ),
            ro_binds=(*python_binds, Bind(bundle_dir, APP_MOUNT)),
            rw_binds=(Bind(sock_dir, SOCKET_MOUNT), Bind(data_dir, DATA_MOUNT)),
            env=sandbox_env(
                {**env_vars, "PYTHONDONTWRITEBYTECODE": "1", "MICROAPP_DATA_DIR": DATA_MOUNT}
            ),
            uid=uid,
            gid=uid,
            chdir=APP_MOUNT,
            tmp_size_mb=self.limits.memory_mb,
            secret_env=secrets,
        )
        applied = await asyncio.to_thread(apply_limits, self._cgroup_name(instance_id), self.limits)
        proc: asyncio.subprocess.Process | None = None
        try:
            log_fd = await asyncio.to_thread(_open_log, log_path)
            try:
                # A session of its own, and no --die-with-parent: the app outlives the worker.
                proc, init = await _spawn(spec, applied, log_fd=log_fd)
            finally:
                os.close(log_fd)
            if init is None:
                await asyncio.wait_for(proc.wait(), timeout=5.0)
                raise SandboxStartError(
                    f"instance {instance_id}: the sandbox did not start "
                    f"(exit code {proc.returncode})\n{await _tail(log_path)}"
                )
            bwrap_start = await asyncio.to_thread(_start_time, proc.pid)
            record = InstanceRecord(
                instance_id=instance_id,
                app_id=app_id,
                version=version,
                host=self.host,
                uid=uid,
                socket_path=str(socket_path),
                health_path=manifest.health_path,
                bwrap_pid=proc.pid,
                bwrap_start=bwrap_start or 0,
                init_pid=init[0],
                init_start=init[1],
                limits=applied,
                log_path=str(log_path),
                started_at=time.time(),
            )
            await asyncio.to_thread(self._save, record)
            self._procs[instance_id] = proc
        except BaseException:
            if proc is not None and proc.returncode is None:
                await asyncio.shield(_kill_sandbox(proc, None))
            await asyncio.shield(asyncio.to_thread(remove_cgroups, applied.cgroups))
            raise
        try:
            await self._wait_for_socket(record, proc)
        except BaseException:
            await asyncio.shield(self._teardown(record, drain_s=0.0))
            raise
        log.info(
            "instance %s started (init pid %d, %s)",
            instance_id,
            record.init_pid,
            applied.summary(),
        )
        return record

    async def _wait_for_socket(
        self, record: InstanceRecord, proc: asyncio.subprocess.Process
    ) -> None:
        """Return once uvicorn has bound its socket (the app imported and started)."""
        deadline = time.monotonic() + self.start_timeout_s
        socket_path = Path(record.socket_path)
        while True:
            if await asyncio.to_thread(socket_path.exists):
                return
            if proc.returncode is not None or not await asyncio.to_thread(
                _alive, record.init_pid, record.init_start
            ):
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(proc.wait(), timeout=2.0)
                raise AppStartError(
                    f"instance {record.instance_id} exited during startup "
                    f"(exit code {proc.returncode}); log tail:\n"
                    f"{await _tail(Path(record.log_path))}"
                )
            if time.monotonic() > deadline:
                raise AppStartError(
                    f"instance {record.instance_id} did not open its socket within "
                    f"{self.start_timeout_s:.0f} s; log tail:\n{await _tail(Path(record.log_path))}"
                )
            await asyncio.sleep(0.05)

    async def _teardown(self, record: InstanceRecord, *, drain_s: float) -> None:
        """Stop the instance's processes, remove its cgroups and socket, mark it stopped."""
        init = (record.init_pid, record.init_start)
        if await asyncio.to_thread(_alive, *init):
            app_pids = await asyncio.to_thread(_children, record.init_pid)
            for pid, start in app_pids:
                await asyncio.to_thread(_signal, pid, start, signal.SIGTERM)
            if app_pids:
                await _wait_dead(init, drain_s + self.kill_grace_s)
            # SIGKILL of a pid namespace's init kills every process in the namespace.
            await asyncio.to_thread(_signal, *init, signal.SIGKILL)
            if not await _wait_dead(init, 5.0):
                log.warning(
                    "instance %s: init pid %d survived SIGKILL", record.instance_id, init[0]
                )
        proc = self._procs.pop(record.instance_id, None)
        if proc is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(proc.wait(), timeout=5.0)
        await asyncio.to_thread(remove_cgroups, record.limits.cgroups)
        stopped = record.model_copy(update={"stopped_at": time.time()})

        def finish() -> None:
            Path(record.socket_path).unlink(missing_ok=True)
            self._save(stopped)

        await asyncio.to_thread(finish)
        log.info("instance %s stopped", record.instance_id)

    def _cgroup_name(self, instance_id: str) -> str:
        # Two runtimes on one host (tests, several state dirs) may run the same instance id.
        tag = hashlib.sha256(str(self.state_dir).encode()).hexdigest()[:8]
        return f"app-{instance_id}-{tag}"


def _prepare_dirs(inst: Path, sock_dir: Path, data_dir: Path, log_path: Path, uid: int) -> None:
    """The instance's directories, its socket and data directories owned by ``uid``. Blocking."""
    inst.mkdir(parents=True, exist_ok=True)
    os.chmod(inst, 0o700)
    if log_path.exists():
        log_path.replace(log_path.with_suffix(".log.1"))
    # Only the sandbox user (and root) may enter the socket and data directories.
    for path in (sock_dir, data_dir):
        path.mkdir(parents=True, exist_ok=True)
        os.chmod(path, 0o700)
    os.chown(sock_dir, uid, uid)
    give_tree(data_dir, uid)
    (sock_dir / SOCKET_NAME).unlink(missing_ok=True)


def give_tree(root: Path, uid: int) -> None:
    """Make ``uid`` (and its group) the owner of ``root`` and all below it. Blocking.

    A no-op when ``root`` is already the uid's: the app kept its uid since it
    last ran. Otherwise (its lease was taken over while it was stopped) every
    entry changes owner, links themselves and never their targets.
    """
    info = os.lstat(root)
    if (info.st_uid, info.st_gid) == (uid, uid):
        return
    os.chown(root, uid, uid, follow_symlinks=False)
    for dirpath, dirnames, filenames in os.walk(root):
        for name in (*dirnames, *filenames):
            os.chown(os.path.join(dirpath, name), uid, uid, follow_symlinks=False)


# -- launching ---------------------------------------------------------------


async def _spawn(
    spec: SandboxSpec, applied: AppliedLimits, *, log_fd: int
) -> tuple[asyncio.subprocess.Process, tuple[int, int] | None]:
    """Start bwrap (inside the cgroups, with the rlimits); return it and (init pid, start).

    The init is None when bwrap exited before creating the sandbox (its
    error is in the log).
    """
    read_fd, write_fd = os.pipe()
    filter_fd: int | None = None
    try:
        filter_fd = await asyncio.to_thread(program_fd)
        launch = replace(spec, info_fd=write_fd, seccomp_fd=filter_fd)
        # Both look up executables and stat host directories: keep that off the loop.
        argv = await asyncio.to_thread(lambda: [*launcher_argv(applied), *build_argv(launch)])
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=log_fd,
            stderr=log_fd,
            pass_fds=(write_fd, filter_fd),
            start_new_session=True,
            env=spawn_environment(spec),
        )
    except BaseException:
        os.close(read_fd)
        raise
    finally:
        os.close(write_fd)
        if filter_fd is not None:
            os.close(filter_fd)
    try:
        info = await _read_info(read_fd)
    except BaseException:  # no word from bwrap in time, or cancelled: do not leave it running
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await asyncio.shield(proc.wait())
        raise
    pid = info.get("child-pid") if info else None
    if not isinstance(pid, int):
        return proc, None
    start = await asyncio.to_thread(_start_time, pid)
    # An init that already exited has no start time; the caller sees bwrap exit.
    return proc, ((pid, start) if start is not None else None)


async def _read_info(fd: int, timeout_s: float = 30.0) -> dict[str, Any] | None:
    """bwrap's ``--info-fd`` JSON; None when bwrap closed the pipe without writing it."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    transport, _ = await loop.connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(fd, "rb", buffering=0)
    )
    buf = b""
    try:
        async with asyncio.timeout(timeout_s):
            while True:
                chunk = await reader.read(4096)
                if not chunk:
                    return None
                buf += chunk
                with contextlib.suppress(ValueError):
                    data = json.loads(buf)
                    return data if isinstance(data, dict) else None
    finally:
        transport.close()


async def _kill_sandbox(proc: asyncio.subprocess.Process, init: tuple[int, int] | None) -> None:
    """SIGKILL the sandbox's init (the whole pid namespace) and bwrap; reap bwrap."""
    if init is not None:
        await asyncio.to_thread(_signal, *init, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError):
        proc.kill()
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(proc.wait(), timeout=5.0)


async def _wait_dead(proc: tuple[int, int], timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while await asyncio.to_thread(_alive, *proc):
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.05)
    return True


# -- /proc helpers (blocking; call through asyncio.to_thread) -----------------


def _stat(pid: int) -> tuple[str, int, int] | None:
    """(state, ppid, start time) of a process, or None if it does not exist."""
    try:
        data = Path(f"/proc/{pid}/stat").read_bytes()
    except (FileNotFoundError, ProcessLookupError):
        return None
    # The command name is arbitrary bytes (spaces, ")", invalid UTF-8): split after its end.
    fields = data.rsplit(b")", 1)[1].split()
    return fields[0].decode(), int(fields[1]), int(fields[19])


def _start_time(pid: int) -> int | None:
    """Start time of a live (non-zombie) process, or None."""
    stat = _stat(pid)
    if stat is None or stat[0] in ("Z", "X"):
        return None
    return stat[2]


def _command_lines() -> Iterator[tuple[int, list[bytes]]]:
    """(pid, arguments) of every process whose command line we may read."""
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/cmdline", "rb") as cmdline:
                yield int(entry.name), cmdline.read().split(b"\0")
        except OSError:
            continue  # gone, or not ours to read


def _processes_naming(path: Path) -> list[tuple[int, int]]:
    """Live processes (pid, start time) with ``path`` as a whole argument of their command."""
    target = os.fsencode(str(path))
    return [
        (pid, start)
        for pid, args in _command_lines()
        if target in args and (start := _start_time(pid)) is not None
    ]


def _instances_named_under(instances_dir: Path) -> set[str]:
    """Instance ids whose socket directory (``<instances_dir>/<id>/sock``) is a whole
    argument of some live process's command."""
    prefix = os.fsencode(str(instances_dir)) + b"/"
    found = set()
    for _pid, args in _command_lines():
        for arg in args:
            instance, sep, rest = arg.removeprefix(prefix).partition(b"/")
            if arg.startswith(prefix) and sep and rest == b"sock" and instance:
                found.add(os.fsdecode(instance))
    return found


def _alive(pid: int, start: int) -> bool:
    """Is this exact process (not a later one reusing its pid) still running?"""
    return _start_time(pid) == start


def _alive_and_serving(record: InstanceRecord) -> bool:
    return _alive(record.init_pid, record.init_start) and Path(record.socket_path).exists()


def _children(pid: int) -> list[tuple[int, int]]:
    """Live children of ``pid`` as (pid, start time)."""
    result = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            stat = _stat(int(entry.name))
            if stat is not None and stat[1] == pid and stat[0] not in ("Z", "X"):
                result.append((int(entry.name), stat[2]))
    return result


def _signal(pid: int, start: int, sig: signal.Signals) -> bool:
    """Signal the process only if it is still the one that started at ``start``.

    The pidfd pins the process, so checking the start time after opening it
    and then signalling through it cannot hit a process that reused the pid.
    """
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return False
    try:
        if _start_time(pid) != start:
            return False
        signal.pidfd_send_signal(fd, sig)
        return True
    except ProcessLookupError:
        return False
    finally:
        os.close(fd)


def _open_log(path: Path) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)


async def _tail(path: Path, lines: int = 40) -> str:
    return await asyncio.to_thread(tail_text, path, lines)


def tail_text(path: Path, lines: int = 40, max_bytes: int = 16_384) -> str:
    """The last ``lines`` lines of a log file (at most ``max_bytes`` read). Blocking."""
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - max_bytes))
            data = f.read()
    except FileNotFoundError:
        return ""
    return "\n".join(data.decode(errors="replace").splitlines()[-lines:])

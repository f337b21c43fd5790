"""The bubblewrap runtime: long-lived app instances in isolated sandboxes.

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
import logging
import os
import signal
import time
from pathlib import Path

from runtime.bwrap import (
    ENV_MOUNT,
    Bind,
    SandboxSpec,
    python_env_binds,
)
from runtime.egress.binding import (
    EGRESS_SOCKET,
    FORWARDER,
    FORWARDER_MOUNT,
    SOCKET_DIR_MOUNT,
    forwarder_prefix,
    prepare_egress_dir,
    proxy_env,
)
from runtime.egress.registry import EgressRegistry
from runtime.errors import AppStartError, SandboxStartError
from runtime.limits import (
    AppliedLimits,
    ResourceLimits,
    apply_limits,
    remove_cgroups,
)
from runtime.procfs import (
    alive,
    children,
    instances_named_under,
    open_log,
    processes_naming,
    signal_exact,
    start_time,
    tail,
    wait_dead,
)
from runtime.records import (
    MAX_SOCKET_PATH,
    SOCKET_NAME,
    InstanceRecordBase,
    InstanceRecords,
    Launch,
    RecordedRuntime,
    check_id,
    give_tree,
)
from runtime.sandbox_run import kill_sandbox, sandbox_env, spawn
from runtime.uids import UidPool, app_holder
from schemas.runtime import InstanceInfo

log = logging.getLogger(__name__)

APP_MOUNT = "/app"
DATA_MOUNT = "/data"
SOCKET_MOUNT = "/run/app"


class InstanceRecord(InstanceRecordBase):
    """What is kept on disk about one sandboxed instance (``instance.json``)."""

    bwrap_pid: int
    bwrap_start: int
    init_pid: int
    init_start: int
    """Start time (clock ticks since boot) of the init pid: guards against pid reuse."""
    limits: AppliedLimits
    log_path: str
    egress_socket: str | None = None
    """The host path of the egress proxy's socket for this instance, when it has one."""

    def info(self) -> InstanceInfo:
        """The public view of the instance, with its init pid."""
        return super().info().model_copy(update={"pid": self.init_pid})


class SandboxRuntime(RecordedRuntime[InstanceRecord]):
    """App instances in bubblewrap sandboxes, served by uvicorn on a unix socket.

    Inside the sandbox: the bundle read-only at ``/app``, the bundle's
    virtualenv read-only at ``/env``, a per-app persistent directory at
    ``/data`` (``MICROAPP_DATA_DIR``), the socket directory at ``/run/app``,
    a private ``/tmp``, no network, no host environment, the app's own uid
    (leased from ``uids``; its data directory is chowned to it should it
    change) without capabilities, the seccomp filter of
    :mod:`runtime.seccomp`, and the memory/pids/cpu limits of
    :mod:`runtime.limits`. An app that declares egress, on a host with an
    egress proxy (``egress``), also gets its socket at ``/run/egress`` and the
    forwarder that serves ``HTTPS_PROXY`` on its own loopback
    (:mod:`runtime.egress.binding`); it still has no network interface.
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
        egress: EgressRegistry | None = None,
    ) -> None:
        self.host = host
        self.egress = egress
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
        strays = await asyncio.to_thread(processes_naming, self.instance_dir(instance_id) / "sock")
        if not strays:
            return
        log.warning("instance %s: killing %d stray sandbox processes", instance_id, len(strays))
        for proc in strays:
            await asyncio.to_thread(signal_exact, *proc, signal.SIGKILL)
        for proc in strays:
            await wait_dead(proc, 5.0)

    async def sweep_strays(self) -> list[str]:
        """Kill sandboxes that no running record accounts for; returns their instance ids.

        The periodic counterpart of a retried start's clean-up, for the start that
        is never retried (its deployment failed or was cancelled meanwhile). Each
        instance is checked under its lock, so a start in progress (which holds
        it from spawning until its record is saved) is left alone.
        """
        named = await asyncio.to_thread(instances_named_under, self._records.root)
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
        return alive(record.init_pid, record.init_start)

    # -- internals -----------------------------------------------------------

    def _serving(self, record: InstanceRecord) -> bool:
        return alive(record.init_pid, record.init_start) and Path(record.socket_path).exists()

    async def _discard(self, record: InstanceRecord) -> None:
        await self._teardown(record, drain_s=0.0)

    async def _launch(self, launch: Launch) -> InstanceRecord:
        await self._kill_strays(launch.instance_id)
        uid = await self.uids.acquire(app_holder(launch.app_id))
        instance_id, app_id, manifest = launch.instance_id, launch.app_id, launch.manifest
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
        python_binds = await asyncio.to_thread(python_env_binds, launch.env)
        egress_binds: tuple[Bind, ...] = ()
        egress_socket: Path | None = None
        python: tuple[str, ...] = (f"{ENV_MOUNT}/bin/python",)
        env = {"PYTHONDONTWRITEBYTECODE": "1", "MICROAPP_DATA_DIR": DATA_MOUNT}
        if manifest.egress and self.egress is None:
            log.warning("instance %s declares egress, but this host has no proxy", instance_id)
        if manifest.egress and self.egress is not None:
            egress_dir = inst / "egress"
            egress_socket = egress_dir / EGRESS_SOCKET
            if len(str(egress_socket)) > MAX_SOCKET_PATH:
                raise ValueError(f"egress socket path {egress_socket} is too long")
            await asyncio.to_thread(prepare_egress_dir, egress_dir)
            await self.egress.attach(
                app_id=app_id,
                instance_id=instance_id,
                version=launch.version,
                socket_path=egress_socket,
                declared=manifest.egress,
            )
            egress_binds = (Bind(egress_dir, SOCKET_DIR_MOUNT),)
            python = forwarder_prefix(python[0])
            env.update(proxy_env())

        spec = SandboxSpec(
            command=(
                *python,
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
            # The egress socket is reached read-only: connecting needs no write access.
            ro_binds=(
                *python_binds,
                Bind(launch.bundle_dir.resolve(), APP_MOUNT),
                *((Bind(FORWARDER, FORWARDER_MOUNT),) if egress_binds else ()),
                *egress_binds,
            ),
            rw_binds=(Bind(sock_dir, SOCKET_MOUNT), Bind(data_dir, DATA_MOUNT)),
            env=sandbox_env(env),
            uid=uid,
            gid=uid,
            chdir=APP_MOUNT,
            tmp_size_mb=self.limits.memory_mb,
            secret_env=launch.secrets,
        )
        applied = await asyncio.to_thread(apply_limits, self._cgroup_name(instance_id), self.limits)
        proc: asyncio.subprocess.Process | None = None
        try:
            log_fd = await asyncio.to_thread(open_log, log_path)
            try:
                # A session of its own, and no --die-with-parent: the app outlives the worker.
                proc, init = await spawn(spec, applied, log_fd=log_fd)
            finally:
                os.close(log_fd)
            if init is None:
                await asyncio.wait_for(proc.wait(), timeout=5.0)
                raise SandboxStartError(
                    f"instance {instance_id}: the sandbox did not start "
                    f"(exit code {proc.returncode})\n{await tail(log_path)}"
                )
            bwrap_start = await asyncio.to_thread(start_time, proc.pid)
            record = InstanceRecord(
                instance_id=instance_id,
                app_id=app_id,
                version=launch.version,
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
                egress_socket=str(egress_socket) if egress_socket else None,
            )
            await asyncio.to_thread(self._save, record)
            self._procs[instance_id] = proc
        except BaseException:
            if proc is not None and proc.returncode is None:
                await asyncio.shield(kill_sandbox(proc, None))
            await asyncio.shield(asyncio.to_thread(remove_cgroups, applied.cgroups))
            if egress_socket is not None and self.egress is not None:
                await asyncio.shield(self.egress.detach(instance_id))
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
                alive, record.init_pid, record.init_start
            ):
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(proc.wait(), timeout=2.0)
                raise AppStartError(
                    f"instance {record.instance_id} exited during startup "
                    f"(exit code {proc.returncode}); log tail:\n"
                    f"{await tail(Path(record.log_path))}"
                )
            if time.monotonic() > deadline:
                raise AppStartError(
                    f"instance {record.instance_id} did not open its socket within "
                    f"{self.start_timeout_s:.0f} s; log tail:\n{await tail(Path(record.log_path))}"
                )
            await asyncio.sleep(0.05)

    async def _teardown(self, record: InstanceRecord, *, drain_s: float) -> None:
        """Stop the instance's processes, remove its cgroups and socket, mark it stopped."""
        init = (record.init_pid, record.init_start)
        if await asyncio.to_thread(alive, *init):
            app_pids = await asyncio.to_thread(children, record.init_pid)
            for pid, start in app_pids:
                await asyncio.to_thread(signal_exact, pid, start, signal.SIGTERM)
            if app_pids:
                await wait_dead(init, drain_s + self.kill_grace_s)
            # SIGKILL of a pid namespace's init kills every process in the namespace.
            await asyncio.to_thread(signal_exact, *init, signal.SIGKILL)
            if not await wait_dead(init, 5.0):
                log.warning(
                    "instance %s: init pid %d survived SIGKILL", record.instance_id, init[0]
                )
        proc = self._procs.pop(record.instance_id, None)
        if proc is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(proc.wait(), timeout=5.0)
        await asyncio.to_thread(remove_cgroups, record.limits.cgroups)
        if record.egress_socket is not None and self.egress is not None:
            await self.egress.detach(record.instance_id)
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

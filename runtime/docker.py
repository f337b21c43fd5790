"""The Docker runtime: each app release an image, each instance a locked-down container.

Images are built without network access (``network_mode=none``) in two layers:
``mb-env:<hash>`` adds a bundle environment's installed packages (prepared on
the host, outside the build) to the base image, and ``mb-app-<app>:<hash>`` adds
the bundle. Images stay after a stop, so starting an earlier release again (a
rollback) builds nothing.

A container has no network (``none``: loopback only), a read-only root, a
private ``/tmp`` tmpfs, runs as its app's own host uid (leased from
:mod:`runtime.uids`, as in the sandbox runtime) with every capability dropped,
``no-new-privileges`` and the seccomp policy of :mod:`runtime.seccomp` (the
same one bubblewrap applies), within memory, CPU and pids limits, and mounts
nothing from the host but its ingress socket directory; its data directory is
a Docker volume of its own, owned by the app's uid. Secrets are written to the
container's stdin at start and read by a tiny launcher before it execs
uvicorn: they never enter the container's configuration (which Docker keeps on
disk), its command line or a file.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import socket
import time
from pathlib import Path
from typing import Any

from runtime.docker_base import DEFAULT_BASE_IMAGE
from runtime.docker_images import ENV_MOUNT, LABEL, DockerImages
from runtime.egress.binding import (
    EGRESS_SOCKET,
    FORWARDER,
    FORWARDER_MOUNT,
    PROXY_PORT,
    SOCKET_DIR_MOUNT,
    prepare_egress_dir,
    proxy_env,
)
from runtime.egress.registry import EgressRegistry
from runtime.errors import AppStartError, DockerUnavailable, SandboxStartError
from runtime.limits import INSTANCES_PER_UID
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
from runtime.seccomp import docker_profile
from runtime.uids import UidPool, app_holder

log = logging.getLogger(__name__)

SOCKET_MOUNT = "/run/app"
CONTAINER_TMP = "/tmp"  # noqa: S108 - the container's own private tmpfs
EGRESS_SOCKET_PATH = f"{SOCKET_DIR_MOUNT}/{EGRESS_SOCKET}"
# Reads the secrets from stdin (JSON), adds the env's packages (with their .pth files),
# then runs uvicorn in the same process: nothing secret on the command line.
# With egress, it first starts the forwarder (runtime/egress_forwarder.py, bound read-only)
# serving HTTPS_PROXY on the container's own loopback, relayed to the proxy's socket.
LAUNCHER = (
    "import json, os, site, sys\n"
    "os.environ.update(json.loads(sys.stdin.read() or '{}'))\n"
    "null = os.open(os.devnull, os.O_RDONLY); os.dup2(null, 0); os.close(null)\n"
    f"if os.path.exists({FORWARDER_MOUNT!r}):\n"
    "    import importlib.util\n"
    f"    spec = importlib.util.spec_from_file_location('egress_forwarder', {FORWARDER_MOUNT!r})\n"
    "    forwarder = importlib.util.module_from_spec(spec); spec.loader.exec_module(forwarder)\n"
    f"    if not forwarder.start_in_thread({PROXY_PORT}, {EGRESS_SOCKET_PATH!r}):\n"
    "        sys.exit('egress forwarder did not start')\n"
    f"site.addsitedir({ENV_MOUNT!r})\n"
    "from uvicorn.main import main\n"
    "main(sys.argv[1:], prog_name='uvicorn')\n"
)


class DockerInstanceRecord(InstanceRecordBase):
    """What is kept on disk about one container instance (``instance.json``)."""

    container_id: str
    image: str
    egress_socket: str | None = None
    """The host path of the egress proxy's socket for this instance, when it has one."""


class DockerRuntime(RecordedRuntime[DockerInstanceRecord], DockerImages):
    """App instances as containers on one Docker Engine (dockerd, or Podman's API)."""

    def __init__(
        self,
        state_dir: Path,
        *,
        host: str,
        uids: UidPool,
        memory_mb: int,
        pids: int,
        cpu: float,
        base_image: str = DEFAULT_BASE_IMAGE,
        client: Any = None,
        start_timeout_s: float = 30.0,
        kill_grace_s: float = 2.0,
        tmp_mb: int = 64,
        keep_releases: int = 2,
        egress: EgressRegistry | None = None,
    ) -> None:
        self.host = host
        self.egress = egress
        self.state_dir = state_dir.resolve()
        self._records = InstanceRecords(self.state_dir, DockerInstanceRecord)
        self.uids = uids
        self.memory_mb = memory_mb
        self.pids = pids
        self.cpu = cpu
        self.base_image = base_image
        self.start_timeout_s = start_timeout_s
        self.kill_grace_s = kill_grace_s
        self.tmp_mb = tmp_mb
        self.keep_releases = keep_releases
        """Images of this many releases before the newest are kept (fast rollback)."""
        self._client = client

    @property
    def client(self) -> Any:
        """The Docker SDK client (from ``DOCKER_HOST`` or the default socket)."""
        if self._client is None:
            import docker

            try:
                self._client = docker.from_env(timeout=120)
            except docker.errors.DockerException:
                where = os.environ.get("DOCKER_HOST") or "/var/run/docker.sock"
                raise DockerUnavailable(
                    f"the Docker Engine does not answer at {where}: start dockerd"
                    " (apt-get install docker.io), or set MB_RUNTIME=sandbox"
                ) from None
        return self._client

    # -- the Runtime protocol ------------------------------------------------

    async def _discard(self, record: DockerInstanceRecord) -> None:
        await asyncio.to_thread(self._remove, record)

    async def _launch(self, launch: Launch) -> DockerInstanceRecord:
        image = await asyncio.to_thread(
            self._ensure_app_image, launch.app_id, launch.version, launch.bundle_dir, launch.env
        )
        uid = await self.uids.acquire(app_holder(launch.app_id))
        egress_dir = await self._attach_egress(launch)
        try:
            record = await asyncio.to_thread(self._create_and_start, launch, uid, image, egress_dir)
        except BaseException:
            if egress_dir is not None and self.egress is not None:
                await asyncio.shield(self.egress.detach(launch.instance_id))
            raise
        try:
            await self._wait_for_socket(record)
        except BaseException:
            await asyncio.shield(self._remove_and_detach(record))
            raise
        log.info("instance %s started (container %s)", launch.instance_id, record.container_id[:12])
        return record

    async def stop(self, instance_id: str, *, drain_s: float = 1.0) -> None:
        """SIGTERM (uvicorn drains), SIGKILL after ``drain_s`` + grace, remove; idempotent."""
        check_id(instance_id)
        async with self._lock(instance_id):
            record = await asyncio.to_thread(self._load, instance_id)
            if record is None or record.stopped_at is not None:
                return
            await asyncio.to_thread(self._stop_container, record, drain_s + self.kill_grace_s)
            await self._remove_and_detach(record)
            pruned = await asyncio.to_thread(self._prune_images, record.app_id)
            log.info("instance %s stopped%s", instance_id, f"; pruned {pruned}" if pruned else "")

    async def sweep_strays(self) -> list[str]:
        """Remove containers of this runtime that no running record accounts for (a
        worker killed between creating one and recording it); returns their instance
        ids. Each is checked under its instance's lock, so a start in progress is
        left alone."""
        labelled = await asyncio.to_thread(self._labelled_containers)
        swept = []
        for instance_id, container_id in sorted(labelled):
            async with self._lock(instance_id):
                record = await asyncio.to_thread(self._load, instance_id)
                if (
                    record is not None
                    and record.stopped_at is None
                    and record.container_id == container_id
                ):
                    continue
                await asyncio.to_thread(self._remove_by_name, container_id)
                swept.append(instance_id)
        return swept

    async def _attach_egress(self, launch: Launch) -> Path | None:
        """The instance's egress directory, attached to the proxy (None: no egress)."""
        if not launch.manifest.egress:
            return None
        if self.egress is None:
            log.warning(
                "instance %s declares egress, but this host has no proxy", launch.instance_id
            )
            return None
        egress_dir = self.instance_dir(launch.instance_id) / "egress"
        socket_path = egress_dir / EGRESS_SOCKET
        if len(str(socket_path)) > MAX_SOCKET_PATH:
            raise ValueError(f"egress socket path {socket_path} is too long")
        await asyncio.to_thread(prepare_egress_dir, egress_dir)
        await self.egress.attach(
            app_id=launch.app_id,
            instance_id=launch.instance_id,
            version=launch.version,
            socket_path=socket_path,
            declared=launch.manifest.egress,
        )
        return egress_dir

    async def _remove_and_detach(self, record: DockerInstanceRecord) -> None:
        await asyncio.to_thread(self._remove, record)
        if record.egress_socket is not None and self.egress is not None:
            await self.egress.detach(record.instance_id)

    def container_name(self, instance_id: str) -> str:
        """Unique per runtime state directory (several runtimes may share one engine)."""
        tag = hashlib.sha256(str(self.state_dir).encode()).hexdigest()[:8]
        return f"mb-{instance_id}-{tag}"

    # -- containers (blocking) -----------------------------------------------

    def _create_and_start(
        self, launch: Launch, uid: int, image: str, egress_dir: Path | None = None
    ) -> DockerInstanceRecord:
        instance_id, app_id, manifest = launch.instance_id, launch.app_id, launch.manifest
        from docker.types import Mount, Ulimit

        inst = self.instance_dir(instance_id)
        sock_dir = inst / "sock"
        socket_path = sock_dir / SOCKET_NAME
        if len(str(socket_path)) > MAX_SOCKET_PATH:
            raise ValueError(f"socket path {socket_path} is too long: use a shorter state_dir")
        inst.mkdir(parents=True, exist_ok=True)
        os.chmod(inst, 0o700)  # docker mounts the socket dir itself: nobody traverses this
        sock_dir.mkdir(exist_ok=True)
        os.chown(sock_dir, uid, uid)
        os.chmod(sock_dir, 0o700)
        socket_path.unlink(missing_ok=True)
        name = self.container_name(instance_id)
        self._remove_by_name(name)
        volume = self._data_volume(app_id, uid)
        nproc = self.pids * INSTANCES_PER_UID  # a per-uid backstop: pids_limit is the limit
        environment = {
            "HOME": CONTAINER_TMP,
            "TMPDIR": CONTAINER_TMP,
            "LANG": "C.UTF-8",
            "PYTHONUNBUFFERED": "1",
            "PYTHONDONTWRITEBYTECODE": "1",
            "MICROAPP_DATA_DIR": "/data",
            **(proxy_env() if egress_dir is not None else {}),
        }
        egress_mounts = (
            [
                Mount(target=SOCKET_DIR_MOUNT, source=str(egress_dir), type="bind", read_only=True),
                Mount(target=FORWARDER_MOUNT, source=str(FORWARDER), type="bind", read_only=True),
            ]
            if egress_dir is not None
            else []
        )
        command = [
            "python3",
            "-I",
            "-c",
            LAUNCHER,
            "--uds",
            f"{SOCKET_MOUNT}/{SOCKET_NAME}",
            "--app-dir",
            "/app",
            "--no-access-log",
            manifest.entrypoint,
        ]
        labels = {
            f"{LABEL}.app": app_id,
            f"{LABEL}.version": str(launch.version),
            f"{LABEL}.instance": instance_id,
            f"{LABEL}.host": self.host,
            f"{LABEL}.state-dir": str(self.state_dir),
        }
        try:
            container = self.client.containers.create(
                image,
                command=command,
                name=name,
                user=f"{uid}:{uid}",
                working_dir="/app",
                environment=environment,
                labels=labels,
                network_mode="none",
                read_only=True,
                tmpfs={CONTAINER_TMP: f"rw,nosuid,nodev,size={self.tmp_mb}m,mode=1777"},
                cap_drop=["ALL"],
                security_opt=["no-new-privileges:true", f"seccomp={docker_profile()}"],
                mem_limit=f"{self.memory_mb}m",
                memswap_limit=f"{self.memory_mb}m",
                nano_cpus=int(self.cpu * 1e9),
                pids_limit=self.pids,
                ulimits=[
                    Ulimit(name="core", soft=0, hard=0),
                    Ulimit(name="nproc", soft=nproc, hard=nproc),
                ],
                mounts=[
                    Mount(target=SOCKET_MOUNT, source=str(sock_dir), type="bind"),
                    # no_copy: Docker would give a new volume the image's /data owner.
                    Mount(target="/data", source=volume, type="volume", no_copy=True),
                    *egress_mounts,
                ],
                init=True,
                stdin_open=True,
                log_config={"type": "json-file", "config": {"max-size": "1m", "max-file": "2"}},
            )
            self._start_with_secrets(container, launch.secrets)
        except Exception as err:
            import docker

            if isinstance(err, docker.errors.APIError):
                self._remove_by_name(name)
                raise DockerUnavailable(f"container {name}: {err.explanation}") from None
            raise
        record = DockerInstanceRecord(
            instance_id=instance_id,
            app_id=app_id,
            version=launch.version,
            host=self.host,
            uid=uid,
            container_id=str(container.id),
            image=image,
            socket_path=str(socket_path),
            health_path=manifest.health_path,
            started_at=time.time(),
            egress_socket=str(egress_dir / EGRESS_SOCKET) if egress_dir is not None else None,
        )
        self._save(record)
        return record

    def _data_volume(self, app_id: str, uid: int) -> str:
        """The app's data volume (created if new), owned by the app's uid.

        Its files change owner only when the app's uid changed since it last
        ran (its lease was taken over meanwhile). The engine is local (the
        socket directory is a bind mount from this host), so the volume's
        directory is chowned here, as in the sandbox runtime.
        """
        import docker

        name = f"mb-data-{app_id}"
        try:
            volume = self.client.volumes.get(name)
        except docker.errors.NotFound:
            volume = self.client.volumes.create(name, labels={f"{LABEL}.app": app_id})
        mountpoint = Path(volume.attrs["Mountpoint"])
        try:
            give_tree(mountpoint, uid)
        except OSError as err:
            raise SandboxStartError(
                f"the data volume {name} cannot be given to uid {uid} ({err.strerror}): "
                "the Docker runtime needs a local engine"
            ) from None
        return name

    @staticmethod
    def _start_with_secrets(container: Any, secrets: dict[str, str]) -> None:
        """Start attached to stdin, write the secrets, close it (StdinOnce: EOF)."""
        attached = container.attach_socket(params={"stdin": 1, "stream": 1})
        raw: socket.socket = attached._sock
        try:
            container.start()
            raw.sendall(json.dumps(secrets).encode())
            raw.shutdown(socket.SHUT_WR)
        finally:
            raw.close()

    async def _wait_for_socket(self, record: DockerInstanceRecord) -> None:
        deadline = time.monotonic() + self.start_timeout_s
        socket_path = Path(record.socket_path)
        while not await asyncio.to_thread(socket_path.exists):
            status = await asyncio.to_thread(self._status, record)
            if status not in ("created", "running"):
                raise AppStartError(
                    f"instance {record.instance_id} exited during startup ({status});"
                    f" log tail:\n{await asyncio.to_thread(self._logs, record)}"
                )
            if time.monotonic() > deadline:
                raise AppStartError(
                    f"instance {record.instance_id} did not open its socket within"
                    f" {self.start_timeout_s:.0f} s; log tail:\n"
                    f"{await asyncio.to_thread(self._logs, record)}"
                )
            await asyncio.sleep(0.05)

    def _container(self, record: DockerInstanceRecord) -> Any | None:
        import docker

        try:
            return self.client.containers.get(record.container_id)
        except docker.errors.NotFound:
            return None

    def _status(self, record: DockerInstanceRecord) -> str:
        container = self._container(record)
        if container is None:
            return "missing"
        return str(container.status)  # get() has just inspected it

    def _is_running(self, record: DockerInstanceRecord) -> bool:
        return self._status(record) == "running"

    def _serving(self, record: DockerInstanceRecord) -> bool:
        return self._is_running(record) and Path(record.socket_path).exists()

    def _logs(self, record: DockerInstanceRecord, lines: int = 40) -> str:
        container = self._container(record)
        if container is None:
            return ""
        return bytes(container.logs(tail=lines)).decode(errors="replace")

    def _stop_container(self, record: DockerInstanceRecord, timeout_s: float) -> None:
        import docker

        container = self._container(record)
        if container is None:
            return
        with contextlib.suppress(docker.errors.NotFound):
            container.stop(timeout=max(1, round(timeout_s)))

    def _remove(self, record: DockerInstanceRecord) -> None:
        """Remove the container (kill first if needed) and its socket; mark it stopped."""
        import docker

        container = self._container(record)
        if container is not None:
            with contextlib.suppress(docker.errors.NotFound):
                container.remove(force=True)
        Path(record.socket_path).unlink(missing_ok=True)
        self._save(record.model_copy(update={"stopped_at": time.time()}))

    def _labelled_containers(self) -> list[tuple[str, str]]:
        """(instance id, container id) of every container this runtime created."""
        containers = self.client.containers.list(
            all=True, filters={"label": f"{LABEL}.state-dir={self.state_dir}"}
        )
        return [(c.labels[f"{LABEL}.instance"], c.id) for c in containers]

    def _remove_by_name(self, name: str) -> None:
        import docker

        try:
            self.client.containers.get(name).remove(force=True)
        except docker.errors.NotFound:
            pass

"""What a runtime keeps on disk about its instances, one JSON file each, so that a
new worker (or another runtime object) finds and stops what an earlier one started;
and what every such runtime does the same way with those records (ids checked, an
idempotent start, state, listing, stopping them all)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar

from pydantic import BaseModel

from runtime.base import PythonEnv, instance_id_for
from runtime.locks import file_lock
from schemas.bundle import AppManifest
from schemas.runtime import InstanceInfo, InstanceState

log = logging.getLogger(__name__)

SOCKET_NAME = "app.sock"
MAX_SOCKET_PATH = 107
"""sun_path holds 108 bytes including the terminating NUL."""

_SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
_RESERVED_ENV = re.compile(r"^(PATH|HOME|TMPDIR|LANG|PYTHON\w*|MICROAPP_\w*|LD_\w*)$")


def check_id(value: str) -> None:
    """App and instance ids name files, cgroups and containers: refuse anything else."""
    if not _SAFE_ID.match(value) or ".." in value:
        raise ValueError(f"{value!r} is not a valid app or instance id")


def check_env_names(names: Iterable[str]) -> None:
    """Refuse app variables or secrets that would override the platform's own."""
    for name in names:
        if _RESERVED_ENV.match(name):
            raise ValueError(f"environment variable {name!r} is reserved by the platform")


class InstanceRecordBase(BaseModel):
    """What every runtime records about an instance (each adds its own handles)."""

    instance_id: str
    app_id: str
    version: int
    host: str
    socket_path: str
    health_path: str
    started_at: float
    stopped_at: float | None = None
    uid: int | None = None
    """The host uid (and gid) the instance runs as; None in records of older versions."""

    def info(self) -> InstanceInfo:
        """The public view of the instance."""
        return InstanceInfo(
            instance_id=self.instance_id,
            app_id=self.app_id,
            version=self.version,
            host=self.host,
            socket_path=self.socket_path,
            health_path=self.health_path,
            started_at=self.started_at,
        )


R = TypeVar("R", bound=BaseModel)


class InstanceRecords(Generic[R]):
    """``<state_dir>/instances/<instance_id>/instance.json``, written atomically
    (blocking: call through ``asyncio.to_thread``), and a lock per instance."""

    def __init__(self, state_dir: Path, model: type[R]) -> None:
        self.root = state_dir / "instances"
        self._model = model

    def dir(self, instance_id: str) -> Path:
        """The instance's directory (its record, socket directory, log)."""
        return self.root / instance_id

    def load(self, instance_id: str) -> R | None:
        """The record, or None if the instance was never started here."""
        try:
            text = (self.dir(instance_id) / "instance.json").read_text()
        except FileNotFoundError:
            return None
        return self._model.model_validate_json(text)

    def load_all(self) -> list[R]:
        """Every readable record."""
        if not self.root.is_dir():
            return []
        records = []
        for path in sorted(self.root.glob("*/instance.json")):
            with contextlib.suppress(OSError, ValueError):
                records.append(self._model.model_validate_json(path.read_text()))
        return records

    def save(self, instance_id: str, record: R) -> None:
        """Replace the record atomically."""
        path = self.dir(instance_id) / "instance.json"
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(record.model_dump_json(indent=2))
        tmp.replace(path)

    def lock(self, instance_id: str) -> contextlib.AbstractAsyncContextManager[None]:
        """One start/stop per instance at a time, across processes."""
        return file_lock(self.root / f".{instance_id}.lock")


RecordT = TypeVar("RecordT", bound=InstanceRecordBase)


@dataclass(frozen=True)
class Launch:
    """One instance to start: what a runtime's ``_launch`` is given (ids already checked)."""

    instance_id: str
    app_id: str
    version: int
    bundle_dir: Path
    env: PythonEnv
    manifest: AppManifest
    secrets: dict[str, str]


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


class RecordedRuntime(Generic[RecordT]):
    """What both app runtimes do the same way with their records: an idempotent start,
    state, listing, stop-all.

    A subclass sets ``state_dir`` and ``_records``; says whether a recorded instance
    still runs (``_is_running``) and serves (``_serving``), both blocking; removes a
    dead or broken leftover (``_discard``), launches a new instance (``_launch``,
    under the instance's lock) and implements ``stop``.
    """

    state_dir: Path
    _records: InstanceRecords[RecordT]

    async def start(
        self,
        *,
        app_id: str,
        version: int,
        bundle_dir: Path,
        env: PythonEnv,
        manifest: AppManifest,
        secrets: Mapping[str, str] | None = None,
        generation: int = 0,
    ) -> InstanceInfo:
        """Start the instance, or return it if it is already running (idempotent)."""
        check_id(app_id)
        instance_id = instance_id_for(app_id, version, generation)
        check_id(instance_id)
        values = dict(secrets or {})
        check_env_names(values)
        async with self._lock(instance_id):
            record = await asyncio.to_thread(self._load, instance_id)
            if record is not None and record.stopped_at is None:
                if await asyncio.to_thread(self._serving, record):
                    return record.info()
                log.info("instance %s: replacing a dead or broken leftover", instance_id)
                await self._discard(record)
            launch = Launch(instance_id, app_id, version, bundle_dir, env, manifest, values)
            return (await self._launch(launch)).info()

    def _is_running(self, record: RecordT) -> bool:
        raise NotImplementedError

    def _serving(self, record: RecordT) -> bool:
        raise NotImplementedError

    async def _discard(self, record: RecordT) -> None:
        raise NotImplementedError

    async def _launch(self, launch: Launch) -> RecordT:
        raise NotImplementedError

    async def stop(self, instance_id: str, *, drain_s: float = 1.0) -> None:
        """Stop the instance (each runtime its own way); idempotent."""
        raise NotImplementedError

    async def state(self, instance_id: str) -> InstanceState:
        """``running``, ``stopped`` (known, not running) or ``missing`` (never started here)."""
        check_id(instance_id)
        record = await asyncio.to_thread(self._load, instance_id)
        if record is None:
            return "missing"
        if record.stopped_at is None and await asyncio.to_thread(self._is_running, record):
            return "running"
        return "stopped"

    async def instances(self) -> list[InstanceInfo]:
        """Every instance recorded under ``state_dir``, running or not."""
        return [r.info() for r in await asyncio.to_thread(self._load_all)]

    async def stop_all(self, *, drain_s: float = 1.0) -> list[str]:
        """Stop every running instance (``mb up`` shutting down); returns their ids."""
        stopped = []
        for info in await self.instances():
            if await self.state(info.instance_id) == "running":
                await self.stop(info.instance_id, drain_s=drain_s)
                stopped.append(info.instance_id)
        return stopped

    async def record(self, instance_id: str) -> RecordT | None:
        """Everything recorded about an instance."""
        check_id(instance_id)
        return await asyncio.to_thread(self._load, instance_id)

    def instance_dir(self, instance_id: str) -> Path:
        """Where the instance's record, socket directory (and log) live on the host."""
        return self._records.dir(instance_id)

    def _load(self, instance_id: str) -> RecordT | None:
        return self._records.load(instance_id)

    def _load_all(self) -> list[RecordT]:
        return self._records.load_all()

    def _save(self, record: RecordT) -> None:
        self._records.save(record.instance_id, record)

    def _lock(self, instance_id: str) -> contextlib.AbstractAsyncContextManager[None]:
        """One start/stop per instance at a time, across processes."""
        return self._records.lock(instance_id)

"""What a runtime keeps on disk about its instances, one JSON file each, so that a
new worker (or another runtime object) finds and stops what an earlier one started."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Generic, TypeVar

from pydantic import BaseModel

from runtime.locks import file_lock
from schemas.runtime import InstanceInfo


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

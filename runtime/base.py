"""The interface every app runtime implements, and the Python environments it runs."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from schemas.bundle import AppManifest
from schemas.runtime import InstanceInfo, InstanceState


@dataclass(frozen=True)
class PythonEnv:
    """A built virtualenv holding a bundle's resolved dependencies (shared, read-only)."""

    key: str
    """SHA-256 of the Python version and the resolved requirement pins."""
    path: Path
    """The virtualenv's root directory."""

    @property
    def python(self) -> Path:
        """The virtualenv's interpreter."""
        return self.path / "bin" / "python"


def instance_id_for(app_id: str, version: int, generation: int = 0) -> str:
    """Instance ids are deterministic, so a retried start finds the running instance;
    a refresh (new secrets) starts the same release under the next generation."""
    return f"{app_id}-v{version}" + (f"-r{generation}" if generation else "")


def app_and_version_of(instance_id: str) -> tuple[str, int] | None:
    """The app and version an instance id was made from, or None if it is not one."""
    generation = generation_of(instance_id)
    head = instance_id.removesuffix(f"-r{generation}") if generation else instance_id
    app_id, sep, version = head.rpartition("-v")
    return (app_id, int(version)) if sep and app_id and version.isdigit() else None


def generation_of(instance_id: str) -> int:
    """The generation an instance id was made with (0 for the first instance)."""
    head, sep, tail = instance_id.rpartition("-r")
    return int(tail) if sep and tail.isdigit() and head.rpartition("-v")[2].isdigit() else 0


class Runtime(Protocol):
    """Runs app instances isolated from the host, reachable only through a unix socket."""

    host: str

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
        """Start the instance, or return it if it is already running (idempotent).

        ``secrets`` become environment variables of the app and must never be
        written to disk, logs or a process's command line.
        """
        ...

    async def stop(self, instance_id: str, *, drain_s: float = 1.0) -> None:
        """Stop the instance gracefully (SIGTERM, drain), then for sure; idempotent."""
        ...

    async def state(self, instance_id: str) -> InstanceState:
        """Whether the instance is running."""
        ...

    async def instances(self) -> list[InstanceInfo]:
        """Every instance this runtime knows of on this host, running or not."""
        ...

    async def stop_all(self, *, drain_s: float = 1.0) -> list[str]:
        """Stop every running instance on this host; returns their ids."""
        ...

    async def sweep_strays(self) -> list[str]:
        """Kill what this runtime started but no running record accounts for (left by
        a worker killed mid-start); returns those instance ids."""
        ...

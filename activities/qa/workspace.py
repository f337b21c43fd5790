"""Running one QA tool on a fresh copy of a bundle inside the sandbox.

Every QA stage that executes the bundle's code (tests, mutation, fuzz) does
it the same way: lease a uid of its own for the run (:mod:`runtime.uids`), so
no other tenant's processes count against its limits nor its against theirs,
copy the bundle to a new directory owned by that uid,
bind it writable at ``/app`` with an empty ``/out`` (the tool's report) and
``/data``, run the bundle environment's Python with the tool's arguments, with
no network and no host environment, under the given limits, and read the
report back from ``/out``.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import stat
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runtime.base import PythonEnv
from runtime.bwrap import ENV_MOUNT, Bind, SandboxSpec, python_env_binds
from runtime.limits import ResourceLimits
from runtime.procfs import tail_text
from runtime.sandbox_run import SandboxRun, run_sandboxed, sandbox_env
from runtime.uids import UidPool

MAX_REPORT_BYTES = 32 * 1024 * 1024
SANDBOX_PYTHON = f"{ENV_MOUNT}/bin/python"


@dataclass(frozen=True)
class SandboxUser:
    """Who sandboxed QA code runs as (a uid leased per run), and what it may use."""

    uids: UidPool
    limits: ResourceLimits = field(default_factory=ResourceLimits)


@dataclass(frozen=True)
class ToolRun:
    """The outcome of one sandboxed tool run."""

    result: SandboxRun
    out_dir: Path
    app_dir: Path
    log_path: Path

    def log_tail(self, lines: int = 30) -> str:
        """The last lines of the tool's output (for reports)."""
        return tail_text(self.log_path, lines)

    def read_json(self, name: str) -> Any | None:
        """A JSON file the tool wrote to ``/out``; None when missing, oversized or invalid."""
        return read_json(self.out_dir / name)


async def run_tool(
    bundle_dir: Path,
    env: PythonEnv,
    *,
    args: tuple[str, ...],
    run_dir: Path,
    user: SandboxUser,
    timeout_s: float,
    extra_ro_binds: tuple[Bind, ...] = (),
    extra_env: dict[str, str] | None = None,
    heartbeat: Callable[[float], None] | None = None,
) -> ToolRun:
    """Run ``python ARGS`` in the sandbox on a fresh copy of the bundle at ``/app``.

    ``run_dir`` must not exist yet; the caller removes it when done.
    """
    app, out, data = run_dir / "app", run_dir / "out", run_dir / "data"
    log_path = run_dir / "tool.log"
    async with user.uids.lease(f"run.{uuid.uuid4().hex}") as uid:
        await asyncio.to_thread(prepare_copy, bundle_dir, app, (out, data), uid, uid)
        python_binds = await asyncio.to_thread(python_env_binds, env)
        spec = SandboxSpec(
            command=(SANDBOX_PYTHON, *args),
            ro_binds=(*python_binds, *extra_ro_binds),
            rw_binds=(Bind(app, "/app"), Bind(out, "/out"), Bind(data, "/data")),
            env=sandbox_env(
                {"MICROAPP_DATA_DIR": "/data", "PYTHONDONTWRITEBYTECODE": "1", **(extra_env or {})}
            ),
            uid=uid,
            gid=uid,
            chdir="/app",
            tmp_size_mb=user.limits.memory_mb,
        )
        # run_sandboxed waits until the sandbox is empty: nothing runs as the uid after it.
        result = await run_sandboxed(
            spec, limits=user.limits, log_path=log_path, timeout_s=timeout_s, heartbeat=heartbeat
        )
    return ToolRun(result=result, out_dir=out, app_dir=app, log_path=log_path)


def prepare_copy(
    bundle_dir: Path, app: Path, writable: tuple[Path, ...], uid: int, gid: int
) -> None:
    """A fresh copy of the bundle and empty dirs, all owned by the sandbox user."""
    shutil.copytree(
        bundle_dir,
        app,
        symlinks=True,  # never follow a link out of the bundle while copying as root
        ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache", "mutants"),
    )
    for path in writable:
        path.mkdir(parents=True)
    for top in (app, *writable):
        os.chown(top, uid, gid, follow_symlinks=False)
        for dirpath, dirnames, filenames in os.walk(top):
            for name in (*dirnames, *filenames):
                os.chown(os.path.join(dirpath, name), uid, gid, follow_symlinks=False)


def read_json(path: Path) -> Any | None:
    """JSON written by sandboxed code: None when missing, not a regular file, oversized or
    not JSON. Never follows a link and never blocks (a planted FIFO would hang a read)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_REPORT_BYTES:
            return None
        with os.fdopen(fd, "rb", closefd=False) as handle:
            return json.loads(handle.read(MAX_REPORT_BYTES + 1))
    except (OSError, ValueError):
        return None
    finally:
        os.close(fd)

"""What a worker makes sure of on its host before it takes work.

Every QA run is sandboxed whatever the app runtime, so bubblewrap must be able
to start a sandbox here; with the Docker runtime the engine must answer and the
base image must be present (the default one is built on the first start). Each
failure is one :class:`SandboxUnavailable` or :class:`SandboxStartError` line
naming the cause and the fix, raised before anything is polled.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from runtime.bwrap import SandboxSpec, SandboxUnavailable, find_bwrap, find_setpriv, running_as_root
from runtime.docker import DockerRuntime
from runtime.limits import ResourceLimits
from runtime.procfs import tail_text
from runtime.sandbox_run import run_sandboxed
from runtime.uids import UidPool
from schemas.settings import Settings
from workers.wiring import app_runtime

_PROBE = ("/usr/bin/true",)


async def check_sandbox(*, use_cgroups: bool, uids: UidPool) -> None:
    """Start one real sandbox (the QA path: limits, namespaces, seccomp, a leased uid)
    running ``true``; :class:`SandboxUnavailable` with bwrap's own words if it cannot."""
    find_bwrap()
    if running_as_root():
        find_setpriv()
    with tempfile.TemporaryDirectory(prefix="mb-probe-") as scratch:
        log_path = Path(scratch) / "probe.log"
        async with uids.lease(f"run.host-check-{os.getpid()}") as uid:
            run = await run_sandboxed(
                SandboxSpec(command=_PROBE, uid=uid, gid=uid),
                limits=ResourceLimits(memory_mb=64, pids=16, use_cgroups=use_cgroups),
                log_path=log_path,
                timeout_s=30.0,
            )
        if run.exit_code != 0:
            said = " ".join(tail_text(log_path, lines=3).split()) or f"exit {run.exit_code}"
            raise SandboxUnavailable(
                f"bubblewrap cannot start a sandbox on this host ({said}): it needs"
                " namespaces (run as root, or allow unprivileged user namespaces)"
            )


async def prepare_host(settings: Settings, say: Callable[[str], None]) -> None:
    """Check the sandbox, then get the app runtime ready (``say`` hears long steps)."""
    await check_sandbox(use_cgroups=settings.sandbox_cgroups, uids=UidPool.from_settings(settings))
    runtime = app_runtime(settings)
    if isinstance(runtime, DockerRuntime):
        await asyncio.to_thread(runtime.ensure_base_image, say)

"""Running one command to completion in a sandbox (the QA stages' runner).

The sandbox dies with the worker (``--die-with-parent``); on timeout or
cancellation the whole sandbox is killed and its cgroup removed. The same
launcher starts long-lived app instances (:mod:`runtime.sandbox`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from runtime.bwrap import ENV_MOUNT, SANDBOX_TMP, SandboxSpec, build_argv, spawn_environment
from runtime.limits import (
    AppliedLimits,
    ResourceLimits,
    apply_limits,
    launcher_argv,
    remove_cgroups,
)
from runtime.procfs import open_log, signal_exact, start_time, wait_dead
from runtime.seccomp import program_fd


@dataclass(frozen=True)
class SandboxRun:
    """The outcome of :func:`run_sandboxed`."""

    exit_code: int
    """The command's exit status (negative: bwrap was killed by that signal)."""
    timed_out: bool
    duration_s: float
    limits: AppliedLimits


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
        log_fd = await asyncio.to_thread(open_log, log_path)
        try:
            proc, init = await spawn(spec, applied, log_fd=log_fd)
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
            await kill_sandbox(proc, init)
        exit_code = await wait
        if init is not None:
            # bwrap exits as soon as its command does, while the kernel may still be
            # killing the rest of the pid namespace: wait until the sandbox is empty.
            await wait_dead(init, 5.0)
    finally:
        if proc is not None and proc.returncode is None:  # cancelled: take the sandbox down too
            await asyncio.shield(kill_sandbox(proc, init))
        await asyncio.shield(asyncio.to_thread(remove_cgroups, applied.cgroups))
    return SandboxRun(
        exit_code=exit_code,
        timed_out=timed_out,
        duration_s=time.monotonic() - started,
        limits=applied,
    )


async def spawn(
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
        info = await read_info(read_fd)
    except BaseException:  # no word from bwrap in time, or cancelled: do not leave it running
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await asyncio.shield(proc.wait())
        raise
    pid = info.get("child-pid") if info else None
    if not isinstance(pid, int):
        return proc, None
    start = await asyncio.to_thread(start_time, pid)
    # An init that already exited has no start time; the caller sees bwrap exit.
    return proc, ((pid, start) if start is not None else None)


async def read_info(fd: int, timeout_s: float = 30.0) -> dict[str, Any] | None:
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


async def kill_sandbox(proc: asyncio.subprocess.Process, init: tuple[int, int] | None) -> None:
    """SIGKILL the sandbox's init (the whole pid namespace) and bwrap; reap bwrap."""
    if init is not None:
        await asyncio.to_thread(signal_exact, *init, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError):
        proc.kill()
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(proc.wait(), timeout=5.0)

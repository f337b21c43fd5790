"""The real stack for the fault-injection tests, one per module (faults leave marks)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from temporalio.service import RPCError

from pipeline.operations import PipelineRequestError, deployment_status
from schemas.deployment import Stage
from schemas.runtime import InstanceInfo
from tests.integration.conftest import Stack, running_stack


@pytest.fixture(scope="module")
async def stack(request: pytest.FixtureRequest) -> AsyncIterator[Stack]:
    """A module's stack; ``WORKER_ENV`` in the module adds worker settings."""
    async with running_stack(worker_env=getattr(request.module, "WORKER_ENV", None)) as stack:
        yield stack


async def deployment_stage(stack: Stack, workflow_id: str) -> Stage:
    """Where the deployment is; QUEUED while it has not started or no worker answers."""
    try:
        return (await deployment_status(stack.client, workflow_id)).stage
    except (PipelineRequestError, RPCError):
        return Stage.QUEUED


async def wait_for(what: str, check: Callable[[], Awaitable[bool]], within: float = 180) -> None:
    """Poll ``check`` until it holds; fail naming ``what`` after ``within`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not await check():
        assert loop.time() < deadline, f"never saw: {what}"
        await asyncio.sleep(0.05)


def sandbox_processes(data_dir: Path) -> list[tuple[int, list[str]]]:
    """Every bubblewrap process on this host working under ``data_dir``: (pid, argv)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().decode(errors="replace").split("\0")
        except OSError:
            continue  # gone meanwhile
        if (
            argv
            and os.path.basename(argv[0]) == "bwrap"
            and any(str(data_dir) in arg for arg in argv)
        ):
            found.append((int(entry.name), argv))
    return found


async def running_instances(stack: Stack, app_id: str | None = None) -> list[InstanceInfo]:
    """The runtime's instances that are running now (of ``app_id``, if given)."""
    runtime = stack.runtime()
    return [
        info
        for info in await runtime.instances()
        if (app_id is None or info.app_id == app_id)
        and await runtime.state(info.instance_id) == "running"
    ]

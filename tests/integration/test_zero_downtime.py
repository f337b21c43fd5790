"""The real stack on each runtime (bubblewrap sandboxes, Docker containers): prompt →
release → second release → rollback through the gateway under a steady load, with
no failed request, and the rollback bringing back exactly the earlier release."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import docker
import httpx
import pytest

from runtime.docker import LABEL, DockerRuntime
from runtime.docker_base import build_base_image
from temporal.pipeline_client import app_releases, app_status
from tests.integration.conftest import Stack, running_stack

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]


@pytest.fixture(scope="module", params=["sandbox", "docker"])
async def stack(request: pytest.FixtureRequest) -> AsyncIterator[Stack]:
    """The whole stack deploying into the runtime under test."""
    async with running_stack(request.param) as stack:
        yield stack


@pytest.mark.reliability(
    "Zero-downtime switch",
    done=(
        "Deploy a second release and roll back with `mb rollback` under a steady loopback load "
        "(each runtime)"
    ),
)
async def test_switch_and_roll_back_without_a_failed_request(stack: Stack) -> None:
    """Every request of the load answered 200 and it saw both releases; the previous release's
    exact bundle hash serves again and the newer one is stopped; containers are locked down (no
    network, read-only root, no capabilities, nobody)."""
    runtime = stack.runtime()
    if isinstance(runtime, DockerRuntime):
        client = docker.from_env()
        try:
            client.images.get(stack.settings.docker_base_image)
        except docker.errors.ImageNotFound:
            await asyncio.to_thread(build_base_image, client, stack.settings.docker_base_image)
    app_id = "boxed-todo"
    await stack.outcome(app_id, (await stack.deploy(app_id, "a todo list for my climbing team"))[0])
    first = (await stack.apps.get(f"/apps/{app_id}/")).text
    assert "Climbing" in first

    statuses: list[int] = []
    pages: set[str] = set()
    stop = asyncio.Event()

    async def load() -> None:
        while not stop.is_set():
            try:
                response = await stack.apps.get(f"/apps/{app_id}/")
                statuses.append(response.status_code)
                pages.add("Bouldering" if "Bouldering" in response.text else "Climbing")
            except httpx.HTTPError as err:
                statuses.append(-1)
                print("load error:", err)

    loader = asyncio.create_task(load())
    try:
        second = (await stack.deploy(app_id, "a todo list for my bouldering gym"))[0]
        await stack.outcome(app_id, second)
        rolled = await asyncio.to_thread(stack.mb, "rollback", app_id, "--reason", "load test")
        assert rolled.returncode == 0, rolled.stdout + rolled.stderr
        await asyncio.sleep(1.0)
    finally:
        stop.set()
        await loader
    assert len(statuses) > 50 and set(statuses) == {200}, sorted(set(statuses))
    assert pages == {"Climbing", "Bouldering"}  # the load saw both releases

    # Exactly the first release is back: same bundle, in a container of its own image.
    status = await app_status(stack.client, app_id)
    releases = await app_releases(stack.client, app_id)
    assert status.live is not None and status.live.version == 1
    assert status.live.bundle_hash == releases[0].bundle_hash != releases[1].bundle_hash
    assert "Climbing" in (await stack.apps.get(f"/apps/{app_id}/")).text
    assert await runtime.state(f"{app_id}-v2") == "stopped"
    assert await runtime.state(status.live.instance_id) == "running"
    if isinstance(runtime, DockerRuntime):
        live = await runtime.record(status.live.instance_id)
        assert live is not None
        container = docker.from_env().containers.get(live.container_id)
        assert container.labels[f"{LABEL}.app"] == app_id
        assert container.labels[f"{LABEL}.version"] == "1"
        host = container.attrs["HostConfig"]
        assert host["NetworkMode"] == "none" and host["ReadonlyRootfs"] is True
        assert host["CapDrop"] == ["ALL"] and container.attrs["Config"]["User"] == "65534:65534"

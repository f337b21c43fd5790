"""End to end on the real stack: a prompt becomes an isolated app behind the gateway,
a second deployment replaces it, `mb rollback` brings the first back, and a worker
killed mid-deployment is replaced without losing or duplicating anything."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import uuid

import pytest

from schemas.deployment import DeploymentOutcome, DeployRequest, Stage
from store.releases import ReleaseRepository
from temporal.pipeline_client import (
    PipelineRequestError,
    app_status,
    deployment_status,
    request_deployment,
)
from tests.integration.conftest import Stack

pytestmark = pytest.mark.integration


async def _deploy(stack: Stack, app_id: str, prompt: str) -> tuple[str, str]:
    request = DeployRequest(request_id=uuid.uuid4().hex, owner_id="local", prompt=prompt)
    workflow_id = await request_deployment(stack.client, app_id, request)
    return request.request_id, workflow_id


async def _outcome(stack: Stack, app_id: str, deployment_id: str, within: float = 240) -> str:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while loop.time() < deadline:
        status = await app_status(stack.client, app_id)
        summary = next(d for d in status.deployments if d.deployment_id == deployment_id)
        if summary.finished_at is not None:
            assert summary.outcome is DeploymentOutcome.LIVE, summary.message
            return summary.message
        await asyncio.sleep(0.25)
    raise AssertionError(f"deployment {deployment_id} did not finish in {within} s")


async def _page(stack: Stack, app_id: str) -> str:
    r = await stack.api.get(f"/apps/{app_id}/")
    assert r.status_code == 200, r.text
    return r.text


async def test_prompt_to_app_then_replace_then_rollback(stack: Stack) -> None:
    app_id = "climbing-todo"
    first, _ = await _deploy(stack, app_id, "a todo list for my climbing team")
    await _outcome(stack, app_id, first)

    health = await stack.api.get(f"/apps/{app_id}/health")
    assert health.status_code == 200 and health.json() == {"status": "ok"}
    v1_page = await _page(stack, app_id)
    assert "Climbing" in v1_page

    second, _ = await _deploy(stack, app_id, "a todo list for my bouldering gym")
    await _outcome(stack, app_id, second)
    v2_page = await _page(stack, app_id)
    assert "Bouldering" in v2_page and v2_page != v1_page
    status = await app_status(stack.client, app_id)
    assert status.live is not None and status.live.version == 2
    # The old release's sandbox was stopped after the switch.
    assert await stack.runtime().state(f"{app_id}-v1") != "running"

    result = stack.mb("rollback", app_id, "--reason", "integration test")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "rolled back from v2 to v1" in result.stdout
    assert "Climbing" in await _page(stack, app_id)
    assert await stack.runtime().state(f"{app_id}-v2") != "running"

    shown = stack.mb("status", app_id, "--json")
    assert shown.returncode == 0
    assert json.loads(shown.stdout)["live"]["version"] == 1


async def test_worker_killed_mid_deployment_is_recovered(stack: Stack) -> None:
    app_id = "kill-test"
    deployment_id, workflow_id = await _deploy(stack, app_id, "a guestbook for our wedding")

    loop = asyncio.get_running_loop()
    deadline = loop.time() + 120
    while True:
        try:
            stage = (await deployment_status(stack.client, workflow_id)).stage
        except PipelineRequestError:
            stage = Stage.QUEUED
        if stage is Stage.TESTING:
            break
        assert loop.time() < deadline, f"never reached the testing stage (at {stage})"
        await asyncio.sleep(0.05)

    victim = stack.workers[-1]
    os.killpg(victim.pid, signal.SIGKILL)
    victim.wait()
    stack.start_worker()

    await _outcome(stack, app_id, deployment_id, within=300)
    assert await ReleaseRepository(stack.db).count_for_deployment(deployment_id) == 1
    assert "Wedding" in await _page(stack, app_id)


async def test_cli_refuses_bad_input_clearly(stack: Stack) -> None:
    cases = [
        (["deploy", "   "], "prompt is empty"),
        (["deploy", "x" * 4001], "the limit is 4000"),
        (["status", "no-such-app"], "not found"),
        (["rollback", "no-such-app"], "not found"),
        (["review", "approve", "deploy-no-such-app-12345678"], "not found"),
        (["deploy", "a notes app", "--app", "Not_An_Id"], "app id must be"),
    ]
    for args, reason in cases:
        result = stack.mb(*args)
        assert result.returncode != 0, args
        assert reason in result.stderr, (args, result.stderr)
        assert "Traceback" not in result.stderr

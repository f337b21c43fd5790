"""Faults: poison bundles, and inputs either side of Temporal's 2 MB payload limit.

Each ends with a clear answer in bounded time: a 4xx naming the limit before
anything is stored or started, or a deployment verdict naming what went wrong.
The worker stays up throughout. Bundles never travel through Temporal (only
their hash does), so a bundle just under our 2 MiB limit leaves the histories
small.
"""

from __future__ import annotations

from typing import Any

import pytest
from temporalio.api.enums.v1 import EventType

from activities.generation import generate_offline
from schemas.bundle import MAX_BUNDLE_BYTES
from schemas.deployment import DeploymentOutcome, DeploymentSummary
from store.releases import ReleaseRepository
from temporal import names
from tests.faults.conftest import running_instances
from tests.integration.conftest import Stack

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

TEST_TIMEOUT_S = 30
WORKER_ENV = {"MB_QA_TEST_TIMEOUT_S": str(TEST_TIMEOUT_S)}
QUICK_QA = {"mutation_timeout_s": 20, "fuzz_timeout_s": 20}


def _notes_bundle() -> dict[str, str]:
    return {f.path: f.content for f in generate_offline("a notes app").bundle.files}


async def _submit(stack: Stack, app_id: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    token = await stack.token()
    r = await stack.api.post(
        f"/v1/apps/{app_id}/deployments",
        json=body,
        headers={"Authorization": f"Bearer {token}"},
    )
    return r.status_code, r.json()


async def _verdict(stack: Stack, app_id: str, body: dict[str, Any]) -> DeploymentSummary:
    status, accepted = await _submit(stack, app_id, body)
    assert status == 202, accepted
    summary = await stack.finished(app_id, accepted["deployment_id"], within=300)
    assert summary.outcome is not DeploymentOutcome.LIVE, summary
    return summary


def _worker_is_up(stack: Stack) -> None:
    assert stack.workers[-1].poll() is None, "the worker died"


@pytest.mark.reliability(
    "Poison bundles",
    done="Deploy a bundle whose test sleeps for an hour",
)
async def test_tests_that_hang_end_in_a_timeout_verdict(stack: Stack) -> None:
    """The gate rejects it within its timeouts (tests 30 s per run, mutation and fuzz 20 s) naming
    the timeout; nothing is served; the worker stays up."""
    files = _notes_bundle()
    files["tests/test_hang.py"] = "import time\n\n\ndef test_forever():\n    time.sleep(3600)\n"
    summary = await _verdict(stack, "hangs", {"bundle": files, "qa": QUICK_QA})
    assert summary.outcome is DeploymentOutcome.REJECTED_QA, summary
    assert f"tests: run 1 timed out after {TEST_TIMEOUT_S} s" in summary.message, summary.message
    assert (await stack.apps.get("/apps/hangs/")).status_code == 404
    _worker_is_up(stack)


@pytest.mark.reliability(
    "Payload limits (1.9 MB)",
    done="Deploy a 1.9 MB bundle (just under the 2 MiB limit) whose health path is never served",
)
async def test_a_19_mb_bundle_whose_server_never_becomes_healthy(stack: Stack) -> None:
    """It passes QA, fails its health checks, ends FAILED naming health, and its instance is
    stopped; no release; the largest history event stays under 32 KiB because only the bundle's
    hash travels through Temporal."""
    files = _notes_bundle()
    files["microapp.toml"] = 'name = "never healthy"\nhealth_path = "/ready"\n'  # not served
    files.update({f"static/padding{i}.txt": "x" * 475_000 for i in range(4)})  # 512 KiB a file
    assert sum(len(c.encode()) for c in files.values()) < MAX_BUNDLE_BYTES
    summary = await _verdict(stack, "never-healthy", {"bundle": files})
    assert summary.outcome is DeploymentOutcome.FAILED, summary.message
    assert "health" in summary.message.lower(), summary.message
    assert await ReleaseRepository(stack.db).count_for_deployment(summary.deployment_id) == 0
    assert (await stack.apps.get("/apps/never-healthy/")).status_code == 404
    assert await running_instances(stack, "never-healthy") == []  # stopped, not left running

    # The 1.9 MB stayed out of Temporal: the largest payload in the history is tiny.
    history = await stack.client.get_workflow_handle(summary.workflow_id).fetch_history()
    assert max(event.ByteSize() for event in history.events) < 32 * 1024
    assert not [e for e in history.events if e.event_type == EventType.EVENT_TYPE_UNSPECIFIED]
    _worker_is_up(stack)


@pytest.mark.parametrize(
    "name, change, status, reason",
    [
        (
            "2.1 MB bundle",
            lambda files: files.update({f"static/padding{i}.txt": "x" * 420_000 for i in range(5)}),
            400,
            f"the limit is {MAX_BUNDLE_BYTES}",
        ),
        (
            "10,000 files",
            lambda files: files.update({f"static/f{i}.txt": "x" for i in range(10_000)}),
            400,
            "files; the limit is 200",
        ),
        (
            "a 50 MB file",
            lambda files: files.update({"static/big.bin": "x" * 50_000_000}),
            413,
            "request body is larger than",
        ),
        (
            "a 2.1 MB prompt",
            None,
            422,
            "the limit is 4000",
        ),
    ],
)
@pytest.mark.reliability(
    "Payload limits (2.1 MB) and oversized bundles",
    done=(
        "POST a 2.1 MB bundle, a 2.1 MB prompt, a bundle of 10,000 files and one with a 50 MB file"
    ),
)
async def test_oversized_input_is_refused_before_anything_starts(
    stack: Stack, name: str, change: Any, status: int, reason: str
) -> None:
    """Each is refused with a 4xx naming the limit (400, 422, 400, 413) before anything is stored
    or any workflow starts; the worker stays up."""
    app_id = "oversized"
    if change is None:
        body: dict[str, Any] = {"prompt": "a notes app " + "x" * 2_100_000}
    else:
        files = _notes_bundle()
        change(files)
        body = {"bundle": files}
    got, answer = await _submit(stack, app_id, body)
    assert got == status, (name, answer)
    assert reason in answer["detail"], (name, answer)
    async with stack.db.connection() as conn:
        row = await (
            await conn.execute(
                "SELECT (SELECT count(*) FROM apps WHERE app_id = %(a)s) AS apps,"
                " (SELECT count(*) FROM artifacts WHERE size > %(limit)s) AS oversized",
                {"a": app_id, "limit": MAX_BUNDLE_BYTES},
            )
        ).fetchone()
    assert row == {"apps": 0, "oversized": 0}, (name, row)
    query = f"WorkflowId = '{names.app_workflow_id(app_id)}'"
    workflows = [w async for w in stack.client.list_workflows(query)]
    assert workflows == [], name
    _worker_is_up(stack)

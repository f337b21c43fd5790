"""Faults: the Temporal dev server and PostgreSQL go away in the middle of a deployment.

While one is down the API answers 503 naming what is unavailable (never 500),
secret reads are refused, and the pipeline waits and retries; once it is back
the deployment completes with exactly one release and nothing lost.
"""

from __future__ import annotations

import asyncio

import httpx
import pytest

from schemas.deployment import Stage
from store.releases import ReleaseRepository
from tests.faults.conftest import deployment_stage, wait_for
from tests.integration.conftest import Stack

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

SECRET = "s3cr3t-value-that-must-survive"


async def _reach(stack: Stack, workflow_id: str, stage: Stage) -> None:
    async def there() -> bool:
        return await deployment_stage(stack, workflow_id) is stage

    await wait_for(f"stage {stage}", there)


def _refused_as_unavailable(response: httpx.Response, what: str) -> None:
    assert response.status_code == 503, response.text
    assert response.json()["detail"] == f"{what} is unavailable; retry shortly"
    assert response.headers["retry-after"] == "5"


@pytest.mark.reliability(
    "Temporal restarted",
    done="Stop the Temporal dev server during the QA gate, start it again on the same SQLite file",
)
async def test_temporal_restarted_mid_deployment(stack: Stack) -> None:
    """While it is down the API still answers status reads from the read model (the deployment
    at its last published stage) and refuses a new deployment with 503 naming the workflow
    service; afterwards the deployment goes live with one release and no worker died."""
    token = await stack.token()
    auth = {"Authorization": f"Bearer {token}"}
    app_id = "temporal-restart"
    deployment_id, workflow_id = await stack.deploy(app_id, "a reading list for our book club")
    await _reach(stack, workflow_id, Stage.TESTING)

    await stack.dev.stop()
    try:
        read = await stack.api.get(f"/v1/apps/{app_id}", headers=auth)
        assert read.status_code == 200, read.text
        assert read.json()["status"]["current_deployment"]["deployment_id"] == deployment_id
        _refused_as_unavailable(
            await stack.api.post(
                f"/v1/apps/{app_id}/deployments",
                headers=auth,
                json={"prompt": "a reading list for our poetry club"},
            ),
            "the workflow service",
        )
        await asyncio.sleep(3)  # the worker's polls fail meanwhile
    finally:
        await stack.dev.start()  # same port, same SQLite file

    await stack.outcome(app_id, deployment_id, within=300)
    assert "book club" in (await stack.page(app_id)).lower()
    assert await ReleaseRepository(stack.db).count_for_deployment(deployment_id) == 1
    r = await stack.api.get(f"/v1/apps/{app_id}", headers=auth)
    assert r.status_code == 200 and r.json()["status"]["live"]["version"] == 1, r.text
    assert all(worker.poll() is None for worker in stack.workers), "a worker died"


@pytest.mark.reliability(
    "PostgreSQL stopped",
    done=(
        "Stop PostgreSQL during the QA gate, read a secret through the API and `mb`, start it again"
    ),
)
async def test_postgresql_stopped_mid_deployment_and_during_secret_reads(stack: Stack) -> None:
    """Secret reads and listings are refused (503 with a reason and Retry-After; `mb` prints one
    line, no traceback, no value); the QA stages retry; the deployment goes live with one
    release, one QA report, one switch; the secret is intact."""
    token = await stack.token()
    auth = {"Authorization": f"Bearer {token}"}
    app_id = "db-outage"
    deployment_id, workflow_id = await stack.deploy(app_id, "a packing list for a camping trip")
    r = await stack.api.put(
        f"/v1/apps/{app_id}/secrets/API_KEY", json={"value": SECRET}, headers=auth
    )
    assert r.status_code == 200, r.text
    await _reach(stack, workflow_id, Stage.TESTING)

    await stack.pg.stop()
    try:
        reveal = await stack.api.post(f"/v1/apps/{app_id}/secrets/API_KEY/reveal", headers=auth)
        _refused_as_unavailable(reveal, "the database")
        assert SECRET not in reveal.text
        listed = await stack.api.get("/v1/apps", headers=auth)
        _refused_as_unavailable(listed, "the database")
        cli = stack.mb("secrets", "reveal", app_id, "API_KEY", timeout=120)
        assert cli.returncode != 0
        assert SECRET not in cli.stdout + cli.stderr
        assert "Traceback" not in cli.stderr
        assert "database" in cli.stderr.lower(), cli.stderr
        await asyncio.sleep(3)  # the QA stages meanwhile fail to read the bundle, and retry
    finally:
        await stack.pg.start()

    await stack.outcome(app_id, deployment_id, within=300)
    assert "camping" in (await stack.page(app_id)).lower()
    assert await ReleaseRepository(stack.db).count_for_deployment(deployment_id) == 1
    reveal = await stack.api.post(f"/v1/apps/{app_id}/secrets/API_KEY/reveal", headers=auth)
    assert reveal.status_code == 200 and reveal.json() == {
        "name": "API_KEY",
        "version": 1,
        "value": SECRET,
    }
    async with stack.db.connection() as conn:
        row = await (
            await conn.execute(
                "SELECT (SELECT count(*) FROM qa_reports WHERE deployment_id = %(d)s) AS qa,"
                " (SELECT count(*) FROM route_events WHERE app_id = %(a)s) AS switches,"
                " (SELECT count(*) FROM secrets WHERE app_id = %(a)s) AS secrets",
                {"d": deployment_id, "a": app_id},
            )
        ).fetchone()
    assert row == {"qa": 1, "switches": 1, "secrets": 1}

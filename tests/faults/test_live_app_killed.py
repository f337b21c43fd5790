"""Fault: the live app's process is killed; the worker's reconciliation brings it back.

The worker reconciles every second here (MB_RECONCILE_EVERY_S): it notices the
routed instance is not running, starts it again from the recorded release and
records an incident saying what happened and who did it.
"""

from __future__ import annotations

import asyncio
import os
import signal

import pytest

from store.incidents import IncidentLog
from tests.integration.conftest import Stack

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

WORKER_ENV = {"MB_RECONCILE_EVERY_S": "1"}


@pytest.mark.reliability(
    "Live app killed",
    done="SIGKILL the live app's process; the worker reconciles every second",
)
async def test_a_killed_live_app_is_restarted_and_an_incident_recorded(stack: Stack) -> None:
    """The gateway serves the same page again from a new process of the same release, and one
    reconciliation incident records what was done and by whom."""
    app_id = "killed-app"
    deployment_id, _ = await stack.deploy(app_id, "a chore rota for our flat")
    await stack.outcome(app_id, deployment_id)
    before = await stack.page(app_id)
    runtime = stack.runtime()
    [instance] = [i for i in await runtime.instances() if i.app_id == app_id]
    assert instance.pid is not None
    assert await IncidentLog(stack.db).search(app_id=app_id) == []

    os.kill(instance.pid, signal.SIGKILL)
    outage_seen = False
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 60
    while True:
        r = await stack.apps.get(f"/apps/{app_id}/")
        if r.status_code == 200 and outage_seen:
            break
        outage_seen = outage_seen or r.status_code != 200
        assert loop.time() < deadline, "the app never came back"
        await asyncio.sleep(0.1)

    assert await stack.page(app_id) == before  # the same release, not something else
    [again] = [i for i in await runtime.instances() if i.app_id == app_id]
    assert again.version == instance.version and again.pid != instance.pid
    [incident] = await IncidentLog(stack.db).search(app_id=app_id)
    assert incident.kind == "reconciliation" and incident.actor == "reconciler"
    assert incident.to_version == 1
    assert "not running; started again" in incident.reason

"""The real stack on each runtime (bubblewrap sandboxes, Docker containers): prompt →
release → second release → rollback through the gateway under a steady load, with
no failed request, and the rollback bringing back exactly the earlier release. On the
way: the history is opaque to anyone without our codec, the QA report and evidence of
the release are there, and a release whose evidence was forged is never started."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import docker
import httpx
import pytest
from temporalio.client import Client

from activities.generation import generate_offline
from pipeline.operations import app_releases, app_status
from runtime.docker import DockerRuntime
from runtime.docker_base import build_base_image
from runtime.docker_images import LABEL
from schemas.deployment import DeploymentResult
from store.apps import AppRepository
from store.audit import AuditLog
from store.bundles import write_bundle
from tests.integration.conftest import Stack, running_stack

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]


async def _history_is_opaque(stack: Stack, workflow_id: str, prompt: str) -> None:
    """Nothing readable reaches Temporal: not through a client without our codec, not in
    the dev server's SQLite file; the same history decodes with our converter."""
    secrets_in_clear = [prompt.encode(), b"climbing team", b"from fastapi import", b"def test_"]
    plain = await Client.connect(stack.settings.temporal_target)  # the SDK's default converter
    history = await plain.get_workflow_handle(workflow_id).fetch_history()
    raw = b"".join(event.SerializeToString() for event in history.events)
    assert b"binary/encrypted" in raw
    for needle in secrets_in_clear:
        assert needle not in raw, needle
    store = b"".join(
        path.read_bytes() for path in stack.data_dir.glob("temporal.sqlite*") if path.is_file()
    )
    assert len(store) > 100_000
    for needle in secrets_in_clear:
        assert needle not in store, needle
    decoded = await stack.client.get_workflow_handle(
        workflow_id, result_type=DeploymentResult
    ).result()
    assert decoded.release.bundle_hash and decoded.deployment_id in workflow_id


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
    network, read-only root, no capabilities, nobody). Once (bubblewrap): the history is opaque
    without our codec, the release's QA report and evidence are there, the rollback is an
    incident, and a rollback to a release whose evidence was forged is refused."""
    runtime = stack.runtime()
    if isinstance(runtime, DockerRuntime):
        client = docker.from_env()
        try:
            client.images.get(stack.settings.docker_base_image)
        except docker.errors.ImageNotFound:
            await asyncio.to_thread(build_base_image, client, stack.settings.docker_base_image)
    app_id = "boxed-todo"
    prompt = "a todo list for my climbing team"
    deployment, workflow_id = await stack.deploy(app_id, prompt)
    await stack.outcome(app_id, deployment)
    first = (await stack.apps.get(f"/apps/{app_id}/")).text
    assert "Climbing" in first
    # What does not depend on the runtime is checked once, on bubblewrap.
    once = not isinstance(runtime, DockerRuntime)
    if once:
        await _history_is_opaque(stack, workflow_id, prompt)
        await _report_and_evidence_are_there(stack, app_id, deployment)

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
        assert await runtime.state(f"{app_id}-v1") != "running"  # stopped after the switch
        rolled = await asyncio.to_thread(stack.mb, "rollback", app_id, "--reason", "load test")
        assert rolled.returncode == 0, rolled.stdout + rolled.stderr
        assert "rolled back from v2 to v1" in rolled.stdout
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
        assert host["CapDrop"] == ["ALL"] and container.attrs["Config"]["User"] == (
            f"{live.uid}:{live.uid}"
        )
    if once:
        await _a_rollback_is_an_incident_and_forged_evidence_is_refused(stack, app_id, second)
    assert await runtime.state(status.live.instance_id) == "running"


async def _a_rollback_is_an_incident_and_forged_evidence_is_refused(
    stack: Stack, app_id: str, second: str
) -> None:
    """The rollback is recorded; a rollback to v2 after its evidence was forged is refused."""
    incidents = json.loads(stack.mb("incidents", "--app", app_id, "--json").stdout)
    assert [(i["kind"], i["from_version"], i["to_version"]) for i in incidents] == [
        ("rollback", 2, 1)
    ]
    assert "load test" in incidents[0]["reason"]
    shown = stack.mb("status", app_id, "--json")
    assert shown.returncode == 0
    assert json.loads(shown.stdout)["live"]["version"] == 1

    # v2's evidence is forged: a rollback to it is refused and v1 keeps serving.
    async with stack.db.connection() as conn:
        await conn.execute(
            "UPDATE qa_evidence SET signature = %s WHERE deployment_id = %s", (b"\0" * 64, second)
        )
    assert stack.mb("evidence", "verify", app_id, "2").returncode != 0
    refused = stack.mb("rollback", app_id, "--to", "2")
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "evidence" in refused.stdout.lower()
    assert "Climbing" in await stack.page(app_id)


async def _report_and_evidence_are_there(stack: Stack, app_id: str, deployment: str) -> None:
    """The release's QA report (JSON and HTML) shows every stage, and its evidence verifies."""
    auth = {"Authorization": f"Bearer {await stack.token()}"}
    report = await stack.api.get(f"/v1/deployments/{deployment}/report", headers=auth)
    assert report.status_code == 200, report.text
    gate = report.json()
    assert gate["verdict"] == "pass"
    assert [s["stage"] for s in gate["stages"]] == ["tests", "mutation", "fuzz", "static", "deps"]
    tests_stage, mutation = gate["stages"][0], gate["stages"][1]
    assert [r["order"] for r in tests_stage["runs"]] == ["fixed", "shuffled", "shuffled"]
    assert len(tests_stage["runs"][0]["outcomes"]) >= 8  # the generated suite really ran
    assert mutation["score"] >= 0.7 and mutation["killed"] > 0
    page = await stack.api.get(f"/v1/deployments/{deployment}/report.html", headers=auth)
    assert page.status_code == 200 and "Mutation testing" in page.text
    verified = stack.mb("evidence", "verify", app_id, "1")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "valid" in verified.stdout
    health = await stack.apps.get(f"/apps/{app_id}/health")
    assert health.status_code == 200 and health.json() == {"status": "ok"}


# The pipeline's part (wait for declared secrets, inject, roll on a new value) is the same on
# both runtimes, and how each runtime hands an app its secrets is in the runtime contract
# (tests/runtime/test_runtime_contract.py, both runtimes): this runs on bubblewrap only.
@pytest.mark.parametrize("stack", ["sandbox"], indirect=True)
@pytest.mark.reliability(
    "Zero-downtime switch",
    done="Set a new value of a secret the live release declares, under steady load",
)
async def test_declared_secrets_are_injected_at_deploy_and_never_reach_temporal(
    stack: Stack, tmp_path: Path
) -> None:
    """A release deploys only once the secrets it declares are set, gets them injected (audited,
    by the runtime), and a new value rolls it onto a new instance while every request of a
    steady load answers 200; the value never reaches Temporal's store or any log."""
    value = "sk_live_DEPLOY-TIME-" + uuid.uuid4().hex
    bundle = write_bundle(generate_offline("a poll for our team lunch").bundle, tmp_path / "vault")
    manifest = bundle / "microapp.toml"
    manifest.write_text(manifest.read_text() + 'secrets = ["API_TOKEN"]\n')
    await AppRepository(stack.db).ensure("vault-poll", "local")

    missing = stack.mb("deploy", "--bundle", str(bundle), "--app", "vault-poll")
    assert missing.returncode == 1
    assert "API_TOKEN" in missing.stdout and "not all are set" in missing.stdout

    stored = stack.mb("secrets", "set", "vault-poll", "API_TOKEN", stdin=value)
    assert stored.returncode == 0, stored.stderr
    deployed = stack.mb("deploy", "--bundle", str(bundle), "--app", "vault-poll")
    assert deployed.returncode == 0, deployed.stdout + deployed.stderr
    assert (await stack.apps.get("/apps/vault-poll/health")).status_code == 200
    live = (await app_status(stack.client, "vault-poll")).live
    assert live is not None and live.secrets == ["API_TOKEN"]  # the release names its secrets

    injected = await AuditLog(stack.db).search(
        action="secret.inject", resource_prefix="secret:vault"
    )
    assert [r.outcome for r in injected] == ["ok", "failed"]
    assert injected[0].actor.startswith("runtime:")
    assert injected[0].detail == {"owner": "local", "secrets": {"API_TOKEN": 1}}

    # A new value rolls the live release onto a new instance while it serves: no request fails.
    statuses: list[int] = []
    stop = asyncio.Event()

    async def load() -> None:
        while not stop.is_set():
            try:
                statuses.append((await stack.apps.get("/apps/vault-poll/health")).status_code)
            except httpx.HTTPError as err:
                statuses.append(-1)
                print("load error:", err)

    loader = asyncio.create_task(load())
    changed = await asyncio.to_thread(
        stack.mb, "secrets", "set", "vault-poll", "API_TOKEN", stdin=value + "-v2"
    )
    assert changed.returncode == 0, changed.stderr
    assert "being restarted" in changed.stdout

    async def refreshed() -> bool:
        return any(r.done for r in (await app_status(stack.client, "vault-poll")).refreshes)

    for _ in range(600):
        if await refreshed():
            break
        await asyncio.sleep(0.1)
    await asyncio.sleep(1.0)
    stop.set()
    await loader
    status = await app_status(stack.client, "vault-poll")
    assert status.refreshes[-1].ok, status.refreshes[-1].message
    assert status.live is not None and status.live.instance_id.endswith("-r1")
    assert len(statuses) > 20 and set(statuses) == {200}, statuses
    versions = await AuditLog(stack.db).search(
        action="secret.inject", resource_prefix="secret:vault"
    )
    assert versions[0].detail == {"owner": "local", "secrets": {"API_TOKEN": 2}}

    # The value went from PostgreSQL to the sandbox inside one activity: Temporal never saw it.
    store = b"".join(p.read_bytes() for p in stack.data_dir.glob("temporal.sqlite*") if p.is_file())
    assert value.encode() not in store
    for log in (stack.data_dir / "logs").glob("*.log"):
        assert value.encode() not in log.read_bytes(), log

"""The HTTP API over real PostgreSQL and Temporal (time-skipping server, scripted activities).

Every route is exercised through HTTP (ASGI transport): auth, owner checks,
bad input (4xx with a reason, nothing changed), deploy -> live -> rollback.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment

from activities.qa_admission import QAAdmission
from api.app import create_app
from api.services import Services
from pipeline import operations
from pipeline.operations import AppNotFound, app_status, unanswered
from schemas.qa import QAGateTicket
from schemas.settings import Settings
from store.db import Database
from store.qa_queue import QAQueue
from store.tokens import TokenRepository
from temporal import names
from tests.workflows.pipeline_fakes import FakePipeline
from workers.qa_queue_publisher import publish_positions

GOOD_BUNDLE = {
    "main.py": "from fastapi import FastAPI\napp = FastAPI()\n",
    "requirements.txt": "fastapi\n",
    "tests/test_main.py": "import main\n\ndef test_app():\n    assert main.app\n",
}


class Api:
    """An HTTP client per user, plus direct access to the services for assertions."""

    def __init__(self, http: httpx.AsyncClient, services: Services, tokens: dict[str, str]):
        self.http = http
        self.services = services
        self.tokens = tokens

    def auth(self, user: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[user]}"}

    async def deploy(self, user: str, app_id: str, **body: object) -> httpx.Response:
        return await self.http.post(
            f"/v1/apps/{app_id}/deployments", json=body, headers=self.auth(user)
        )

    async def wait_live(self, user: str, app_id: str, version: int) -> dict[str, object]:
        for _ in range(400):
            r = await self.http.get(f"/v1/apps/{app_id}", headers=self.auth(user))
            if r.status_code == 200:
                live = r.json()["status"]["live"]
                if live and live["version"] == version and not r.json()["status"]["pending"]:
                    return r.json()  # type: ignore[no-any-return]
            await asyncio.sleep(0.05)
        raise AssertionError(f"{app_id} v{version} never went live")


@pytest.fixture
async def api(
    db: Database, env: WorkflowEnvironment, workers: FakePipeline, tmp_path: Path
) -> AsyncIterator[Api]:
    # These tests poll status routes; the rate limit has its own tests.
    settings = Settings(data_dir=tmp_path / "data", rate_limit_per_minute=100_000)
    services = Services.build(settings, db, env.client)
    tokens = TokenRepository(db)
    issued = {}
    for user in ("alice", "bob"):
        await tokens.ensure_user(user, user.title())
        issued[user] = await tokens.issue(user)
    app = create_app(services)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as http:
        yield Api(http, services, issued)


async def test_requests_without_a_valid_token_are_refused(api: Api) -> None:
    for headers in ({}, {"Authorization": "Bearer mbt_nope"}, {"Authorization": "Basic x"}):
        r = await api.http.get("/v1/apps", headers=headers)
        assert r.status_code == 401
        assert "WWW-Authenticate" in r.headers
        assert r.json()["detail"]


async def test_deploy_then_rollback_through_http(api: Api) -> None:
    r = await api.deploy("alice", "team-todo", prompt="a todo list for my team")
    assert r.status_code == 202, r.text
    body = r.json()
    assert body["workflow_id"] == f"deploy-team-todo-{body['deployment_id']}"
    assert body["app_url"].endswith("/apps/team-todo/")
    await api.wait_live("alice", "team-todo", 1)

    r = await api.http.get(
        body["status_url"].removeprefix("http://127.0.0.1:8000"), headers=api.auth("alice")
    )
    assert r.status_code == 200
    assert r.json()["summary"]["outcome"] == "live"
    assert r.json()["status"]["stage"] == "live"

    # Same idempotency key twice = one deployment.
    key = uuid.uuid4().hex
    first = await api.deploy("alice", "team-todo", prompt="v2 please", idempotency_key=key)
    again = await api.deploy("alice", "team-todo", prompt="v2 please", idempotency_key=key)
    assert first.json()["deployment_id"] == again.json()["deployment_id"] == key
    await api.wait_live("alice", "team-todo", 2)
    releases = (await api.http.get("/v1/apps/team-todo/releases", headers=api.auth("alice"))).json()
    assert [r["version"] for r in releases] == [1, 2]

    r = await api.http.post("/v1/apps/team-todo/rollback", json={}, headers=api.auth("alice"))
    assert r.status_code == 202 and r.json()["target_version"] == 1
    await api.wait_live("alice", "team-todo", 1)
    assert (await api.http.get("/v1/apps", headers=api.auth("alice"))).json() == ["team-todo"]


async def test_bad_input_gets_a_reason_and_changes_nothing(
    api: Api, env: WorkflowEnvironment
) -> None:
    cases: list[tuple[str, dict[str, object], int, str]] = [
        ("a-app", {"prompt": "   "}, 422, "prompt is empty"),
        ("a-app", {"prompt": "x" * 4001}, 422, "the limit is 4000"),
        ("a-app", {}, 422, "exactly one of"),
        ("a-app", {"prompt": "p", "bundle": GOOD_BUNDLE}, 422, "exactly one of"),
        ("Bad_Id", {"prompt": "a todo list"}, 422, "app_id"),
        ("a-app", {"bundle": {"main.py": "x"}}, 400, "missing requirements.txt"),
        ("a-app", {"bundle": {**GOOD_BUNDLE, "../evil.py": "x"}}, 400, "invalid bundle"),
        ("a-app", {"prompt": "ok", "idempotency_key": "short"}, 422, "idempotency_key"),
        ("a-app", {"prompt": "ok", "priority": "high"}, 422, "priority: Extra inputs"),
        ("a-app", {"prompt": "ok", "repairs": 3}, 422, "above this platform's 2"),
        ("a-app", {"prompt": "ok", "repairs": -1}, 422, "repairs"),
        ("a-app", {"bundle": GOOD_BUNDLE, "repairs": 1}, 422, "never rewritten"),
        (
            "a-app",
            {"bundle": {**GOOD_BUNDLE, "microapp.toml": 'egress = ["169.254.169.254:80"]\n'}},
            400,
            "invalid bundle: microapp.toml: egress: host '169.254.169.254' is an IP literal",
        ),
        (
            "a-app",
            {"bundle": {**GOOD_BUNDLE, "microapp.toml": 'egress = ["api.*.example.com:443"]\n'}},
            400,
            "'*' is allowed only as a whole leading label",
        ),
    ]
    for app_id, body, status, reason in cases:
        r = await api.deploy("alice", app_id, **body)
        assert r.status_code == status, (body, r.text)
        assert reason in r.json()["detail"], (body, r.json())
        assert "Traceback" not in r.text
    assert await api.services.apps.list_for("alice") == []
    with pytest.raises(AppNotFound):  # no workflow was started either
        await app_status(env.client, "a-app")


async def test_oversized_body_is_refused_with_413(api: Api) -> None:
    big = {"prompt": "a todo list", "padding": "x" * (5 * 1024 * 1024)}
    r = await api.deploy("alice", "big-app", **big)
    assert r.status_code == 413
    assert "larger than" in r.json()["detail"]


async def test_oversized_chunked_body_is_refused_with_413(api: Api) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"prompt": "a todo list", "padding": "'
        for _ in range(5 * 16):
            yield b"x" * 65536
        yield b'"}'

    r = await api.http.post(
        "/v1/apps/big-app/deployments",
        content=chunks(),
        headers={**api.auth("alice"), "Content-Type": "application/json"},
    )
    assert "content-length" not in r.request.headers  # sent chunked: no length up front
    assert r.status_code == 413
    assert "larger than" in r.json()["detail"]
    assert await api.services.apps.list_for("alice") == []


async def test_another_users_app_is_not_found(api: Api) -> None:
    r = await api.deploy("alice", "alice-app", prompt="a notes app")
    assert r.status_code == 202
    deployment_id = r.json()["deployment_id"]
    await api.wait_live("alice", "alice-app", 1)

    probes = [
        api.http.get("/v1/apps/alice-app", headers=api.auth("bob")),
        api.http.get("/v1/apps/alice-app/releases", headers=api.auth("bob")),
        api.http.get(f"/v1/apps/alice-app/deployments/{deployment_id}", headers=api.auth("bob")),
        api.http.post("/v1/apps/alice-app/rollback", json={}, headers=api.auth("bob")),
        api.deploy("bob", "alice-app", prompt="take it over"),
    ]
    for response in await asyncio.gather(*probes):
        assert response.status_code == 404, response.text
        assert "alice-app" in response.json()["detail"]
    # Nothing changed: still one release, still alice's, still v1.
    status = await api.wait_live("alice", "alice-app", 1)
    assert status["status"]["owner_id"] == "alice"  # type: ignore[index]
    assert await api.services.apps.list_for("bob") == []


async def test_rollback_refusals_are_clear(api: Api) -> None:
    await api.deploy("alice", "solo-app", prompt="a guestbook")
    await api.wait_live("alice", "solo-app", 1)
    r = await api.http.post("/v1/apps/solo-app/rollback", json={}, headers=api.auth("alice"))
    assert r.status_code == 409 and "no previous release" in r.json()["detail"]
    r = await api.http.post(
        "/v1/apps/solo-app/rollback", json={"to_version": 9}, headers=api.auth("alice")
    )
    assert r.status_code == 404 and "v9 is not a release" in r.json()["detail"]
    r = await api.http.get("/v1/apps/solo-app/deployments/nope", headers=api.auth("alice"))
    assert r.status_code == 404
    r = await api.http.get("/v1/apps/unknown-app", headers=api.auth("alice"))
    assert r.status_code == 404


async def test_an_app_no_worker_answers_for_is_a_503_not_a_wait_or_a_502(
    api: Api, env: WorkflowEnvironment, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every worker down: the status query runs out of time and the user hears 503."""
    monkeypatch.setattr(operations, "QUERY_TIMEOUT", timedelta(seconds=1))
    await api.services.apps.ensure("unserved-app", "alice")
    await env.client.start_workflow(
        names.APP_WORKFLOW_TYPE,
        id=names.app_workflow_id("unserved-app"),
        task_queue="a-queue-no-worker-polls",
    )
    for path in ("/v1/apps/unserved-app", "/v1/apps/unserved-app/releases"):
        r = await api.http.get(path, headers=api.auth("alice"))
        assert r.status_code == 503, r.text
        assert r.json()["detail"] == "the workflow service is unavailable; retry shortly"
        assert r.headers["retry-after"] == "5"


async def test_healthz_and_openapi(api: Api) -> None:
    r = await api.http.get("/healthz")
    assert r.status_code == 200 and r.json() == {"status": "ok"}
    spec = (await api.http.get("/openapi.json")).json()
    assert "/v1/apps/{app_id}/deployments" in spec["paths"]
    assert "/v1/apps/{app_id}/rollback" in spec["paths"]


async def test_a_flood_of_health_checks_asks_temporal_at_most_once_a_second(api: Api) -> None:
    # /healthz is unauthenticated: it must not spend Temporal's rate budget per request.
    service = api.services.temporal.workflow_service
    original = service.get_system_info
    calls = 0

    async def counting(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        return await original(*args, **kwargs)

    service.get_system_info = counting  # type: ignore[method-assign]
    try:
        answers = await asyncio.gather(*(api.http.get("/healthz") for _ in range(200)))
    finally:
        service.get_system_info = original  # type: ignore[method-assign]
    assert {r.status_code for r in answers} == {200}
    assert calls == 1


async def test_create_list_and_delete_an_app(api: Api, workers: FakePipeline) -> None:
    created = await api.http.post("/v1/apps", json={"app_id": "my-poll"}, headers=api.auth("alice"))
    assert created.status_code == 201 and created.json()["status"]["live"] is None
    taken = await api.http.post("/v1/apps", json={"app_id": "my-poll"}, headers=api.auth("bob"))
    assert taken.status_code == 409
    bad = await api.http.post("/v1/apps", json={"app_id": "My Poll!"}, headers=api.auth("bob"))
    assert bad.status_code == 422
    r = await api.deploy("alice", "my-poll", prompt="a poll for lunch")
    assert r.status_code == 202
    await api.wait_live("alice", "my-poll", 1)
    listed = await api.http.get("/v1/apps/my-poll/deployments", headers=api.auth("alice"))
    assert [d["outcome"] for d in listed.json()] == ["live"]
    await api.http.put(
        "/v1/apps/my-poll/secrets/API_KEY", json={"value": "s3cret"}, headers=api.auth("alice")
    )

    assert (await api.http.delete("/v1/apps/my-poll", headers=api.auth("bob"))).status_code == 404
    deleted = await api.http.delete("/v1/apps/my-poll", headers=api.auth("alice"))
    assert deleted.status_code == 202 and deleted.json() == {"app_id": "my-poll", "stopping": True}
    assert (await api.http.get("/v1/apps/my-poll", headers=api.auth("alice"))).status_code == 404
    assert (await api.http.get("/v1/apps", headers=api.auth("alice"))).json() == []
    for _ in range(200):  # the AppWorkflow takes it offline and stops its instance
        if "stop:my-poll-v1" in workers.calls:
            break
        await asyncio.sleep(0.05)
    assert "clear:my-poll" in workers.calls and "stop:my-poll-v1" in workers.calls
    # Its secrets' ciphertexts are gone, and the id is never handed out again.
    async with api.services.db.connection() as conn:
        row = await (
            await conn.execute(
                "SELECT count(*) AS n FROM secrets"
                " WHERE app_id = 'my-poll' AND ciphertext IS NOT NULL"
            )
        ).fetchone()
    assert row is not None and row["n"] == 0
    again = await api.deploy("alice", "my-poll", prompt="a poll again")
    assert again.status_code == 404
    reserved = await api.http.post("/v1/apps", json={"app_id": "my-poll"}, headers=api.auth("bob"))
    assert reserved.status_code == 409


async def test_a_deployment_shows_each_repair_attempt(api: Api, workers: FakePipeline) -> None:
    """A generated bundle that fails the gate is repaired as often as the request asks (at
    most the platform's MB_GENERATION_REPAIRS, its default); every attempt is shown."""
    workers.qa_verdict, workers.failing_stage, workers.repair_fixes_from = "fail", "mutation", 3
    asked = await api.deploy("alice", "fix-app", prompt="a poll for lunch", repairs=1)
    default = await api.deploy("alice", "fix-app", prompt="a poll for dinner")
    assert asked.status_code == default.status_code == 202

    async def finished(deployment_id: str) -> dict[str, Any]:
        for _ in range(400):
            r = await api.http.get(
                f"/v1/apps/fix-app/deployments/{deployment_id}", headers=api.auth("alice")
            )
            if r.status_code == 200 and r.json()["summary"]["finished_at"]:
                return r.json()  # type: ignore[no-any-return]
            await asyncio.sleep(0.05)
        raise AssertionError(f"{deployment_id} never finished")

    one = await finished(asked.json()["deployment_id"])
    assert one["summary"]["outcome"] == "rejected_qa"  # one repair: attempt 3 was needed
    assert [(a["attempt"], a["verdict"]) for a in one["status"]["attempts"]] == [
        (1, "fail"),
        (2, "fail"),
    ]
    assert one["status"]["repairs_allowed"] == 1
    assert one["summary"]["attempts"] == one["status"]["attempts"]

    two = await finished(default.json()["deployment_id"])
    assert two["summary"]["outcome"] == "live"  # the platform's two repairs: live on attempt 3
    assert [(a["attempt"], a["verdict"]) for a in two["status"]["attempts"]] == [
        (1, "fail"),
        (2, "fail"),
        (3, "pass"),
    ]
    app = (await api.http.get("/v1/apps/fix-app", headers=api.auth("alice"))).json()
    assert [len(d["attempts"]) for d in app["status"]["deployments"]] == [2, 3]


def test_temporal_not_answering_is_told_apart_from_a_failed_request() -> None:
    """Those are 503 with Retry-After (and pollers wait them out); other errors are 502."""
    no_poller = "no poller seen for task queue recently, worker may be down"
    assert unanswered(RPCError(no_poller, RPCStatusCode.FAILED_PRECONDITION, b""))
    assert unanswered(RPCError("Timeout expired", RPCStatusCode.CANCELLED, b""))
    assert unanswered(RPCError("down", RPCStatusCode.UNAVAILABLE, b""))
    assert not unanswered(RPCError("a closed workflow", RPCStatusCode.FAILED_PRECONDITION, b""))
    assert not unanswered(RPCError("bad", RPCStatusCode.INVALID_ARGUMENT, b""))


async def test_a_deployment_waiting_for_qa_cores_shows_its_place(
    api: Api, workers: FakePipeline
) -> None:
    """While its QA gate waits for a worker's cores, the deployment's status shows its place
    in the queue (the worker's admission publishes it to PostgreSQL); owner checks stand."""
    admission = workers.qa_admission = QAAdmission(1, linger_s=0)
    stop = asyncio.Event()
    publisher = asyncio.create_task(
        publish_positions(
            admission, QAQueue(api.services.db), "w1", stop, refresh_s=0.2, min_interval_s=0.01
        )
    )
    busy = QAGateTicket(app_id="carols-app", deployment_id="d0", owner_id="carol")
    async with admission.admitted(busy):  # another owner's gate holds the only slot
        r = await api.deploy("alice", "queued-app", prompt="a todo list for my team")
        path = f"/v1/apps/queued-app/deployments/{r.json()['deployment_id']}"
        for _ in range(400):
            view = (await api.http.get(path, headers=api.auth("alice"))).json()
            if view.get("queue_position") == 1:
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError(f"never shown as queued: {view}")
        assert view["status"]["stage"] == "testing"
        assert [g.owner_id for g in admission.positions()] == ["alice"]
        bob = await api.http.get(path, headers=api.auth("bob"))
        assert bob.status_code == 404 and "queue_position" not in bob.text
    await api.wait_live("alice", "queued-app", 1)
    done = (await api.http.get(path, headers=api.auth("alice"))).json()
    assert done["queue_position"] is None
    stop.set()
    await publisher

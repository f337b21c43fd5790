"""The status read model: the API's status routes read what the workflows published.

Real PostgreSQL, the real workflows on Temporal's time-skipping server, the real
publishing activities; only the pipeline's stage activities are scripted. Each
scripted stage asks the API, as it starts, what the deployment is doing: the answer
is never older than the stage the workflow reached, and no read asks Temporal.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio import activity
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from activities.status_views import StatusViewActivities
from api.app import create_app
from api.services import Services
from pipeline.operations import app_status, deployment_status
from schemas.audit import Actor
from schemas.deployment import AppStatus, AppWorkflowInput, DeploymentStatus, Stage
from schemas.generation import GenerateInput, GenerateOutput
from schemas.moderation import ModerateInput, ModerationResult
from schemas.qa import QAStageOutcome, RunTestsInput
from schemas.runtime import (
    HealthCheckInput,
    HealthCheckResult,
    InstanceInfo,
    RecordReleaseInput,
    StartInstanceInput,
    SwitchTrafficInput,
    SwitchTrafficResult,
)
from schemas.settings import Settings
from store.apps import AppRepository
from store.audit import AuditLog
from store.db import Database
from store.privacy_erasure import PrivacyErasures
from store.status_views import StatusViews
from store.tokens import TokenRepository
from temporal import names
from tests.workflows.pipeline_fakes import FakePipeline
from workflows.app import AppWorkflow

PIPELINE = list(Stage)
"""Stages in the order a deployment goes through them (verdicts last)."""


def _rank(stage: str) -> int:
    return PIPELINE.index(Stage(stage))


@dataclass
class WatchedPipeline(FakePipeline):
    """The scripted pipeline, asking the API at the start of each stage's activity."""

    ask: Any = None
    """``async (expected: Stage) -> None``, set once the API exists."""
    seen: list[tuple[Stage, str]] = field(default_factory=list)
    """What each check expected and what the API showed."""

    async def _check(self, expected: Stage) -> None:
        if self.ask is not None:
            await self.ask(expected)

    @activity.defn(name=names.ACTIVITY_MODERATE)
    async def moderate(self, input: ModerateInput) -> ModerationResult:
        await self._check(Stage.MODERATING)
        return await super().moderate(input)

    @activity.defn(name=names.ACTIVITY_GENERATE)
    async def generate(self, input: GenerateInput) -> GenerateOutput:
        await self._check(Stage.GENERATING)
        return await super().generate(input)

    @activity.defn(name=names.ACTIVITY_RUN_TESTS)
    async def run_tests(self, input: RunTestsInput) -> QAStageOutcome:
        await self._check(Stage.TESTING)
        return await super().run_tests(input)

    @activity.defn(name=names.ACTIVITY_START_INSTANCE)
    async def start_instance(self, input: StartInstanceInput) -> InstanceInfo:
        await self._check(Stage.DEPLOYING)
        return await super().start_instance(input)

    @activity.defn(name=names.ACTIVITY_HEALTH_CHECK)
    async def health_check(self, input: HealthCheckInput) -> HealthCheckResult:
        await self._check(Stage.HEALTH_CHECKING)
        return await super().health_check(input)

    @activity.defn(name=names.ACTIVITY_SWITCH_TRAFFIC)
    async def switch_traffic(self, input: SwitchTrafficInput) -> SwitchTrafficResult:
        await self._check(Stage.SWITCHING)
        return await super().switch_traffic(input)

    @activity.defn(name=names.ACTIVITY_RECORD_RELEASE)
    async def record_release(self, input: RecordReleaseInput) -> Any:
        await self._check(Stage.RECORDING)
        return await super().record_release(input)


@pytest.fixture
def fake(db: Database) -> FakePipeline:
    return WatchedPipeline(status_views=StatusViewActivities(StatusViews(db)))


@dataclass
class Api:
    http: httpx.AsyncClient
    services: Services
    token: str
    temporal_queries: int = 0

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    async def get(self, path: str) -> Any:
        r = await self.http.get(path, headers=self.auth)
        assert r.status_code == 200, r.text
        return r.json()


@pytest.fixture
async def api(
    db: Database, env: WorkflowEnvironment, workers: FakePipeline, tmp_path: Path
) -> AsyncIterator[Api]:
    settings = Settings(data_dir=tmp_path / "data", rate_limit_per_minute=100_000)
    services = Services.build(settings, db, env.client)
    tokens = TokenRepository(db)
    await tokens.ensure_user("alice", "Alice")
    token = await tokens.issue("alice")
    service = env.client.workflow_service
    original = service.query_workflow
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(services)), base_url="http://testserver"
    ) as http:
        api = Api(http, services, token)

        async def counting(*args: Any, **kwargs: Any) -> Any:
            api.temporal_queries += 1
            return await original(*args, **kwargs)

        service.query_workflow = counting  # type: ignore[method-assign]
        try:
            yield api
        finally:
            service.query_workflow = original  # type: ignore[method-assign]


async def _settled(api: Api, app_id: str, version: int) -> Any:
    for _ in range(400):
        body = await api.get(f"/v1/apps/{app_id}")
        live, status = body["status"]["live"], body["status"]
        if live and live["version"] == version and not status["pending"]:
            if status["current_deployment"] is None:
                return body
        await asyncio.sleep(0.05)
    raise AssertionError(f"{app_id} v{version} never went live")


def _app_status(app_id: str, owner: str, *, pending: int = 0) -> AppStatus:
    """A status as an app with nothing deployed publishes it."""
    return AppStatus(
        app_id=app_id,
        owner_id=owner,
        live=None,
        current_deployment=None,
        pending=pending,
        deployments=[],
        rollbacks=[],
    )


async def _live_status(client: Client, app_id: str) -> AppStatus:
    """The AppWorkflow's own answer (the query on-call uses)."""
    return await app_status(client, app_id)


@pytest.mark.reliability(
    "Status read model",
    done="At each stage of a deployment, the API shows that stage or a later one",
)
async def test_a_status_read_is_never_older_than_the_stage_the_workflow_reached(
    api: Api, workers: WatchedPipeline, env: WorkflowEnvironment
) -> None:
    """Each scripted stage reads the deployment through the API as it starts: the stage
    shown is that one or a later one, never an earlier one, and Temporal is never asked.
    Once live, the published statuses equal the workflows' own query answers."""
    deployment_id = uuid.uuid4().hex
    path = f"/v1/apps/team-todo/deployments/{deployment_id}"

    async def ask(expected: Stage) -> None:
        before = api.temporal_queries
        body = await api.get(path)
        assert api.temporal_queries == before, "a status read asked the workflow"
        workers.seen.append((expected, body["status"]["stage"]))
        assert body["summary"]["outcome"] == "running"

    workers.ask = ask
    r = await api.http.post(
        "/v1/apps/team-todo/deployments",
        json={"prompt": "a todo list for my team", "idempotency_key": deployment_id},
        headers=api.auth,
    )
    assert r.status_code == 202, r.text
    await _settled(api, "team-todo", 1)
    workers.ask = None

    expected = [e for e, _ in workers.seen]
    for stage in (Stage.MODERATING, Stage.GENERATING, Stage.TESTING, Stage.DEPLOYING):
        assert stage in expected, workers.seen
    for stage in (Stage.HEALTH_CHECKING, Stage.SWITCHING, Stage.RECORDING):
        assert stage in expected, workers.seen
    stale = [(e, shown) for e, shown in workers.seen if _rank(shown) < _rank(e)]
    assert stale == [], f"reads older than the stage reached: {stale}"

    # Finished: the published status is the workflows' own answer, field for field.
    before = api.temporal_queries
    view = await api.get(path)
    app = await api.get("/v1/apps/team-todo")
    assert api.temporal_queries == before, "a status read asked the workflow"
    assert view["status"]["stage"] == "live" and view["summary"]["outcome"] == "live"
    workflow_id = names.deployment_workflow_id("team-todo", deployment_id)
    own = await deployment_status(env.client, workflow_id)
    assert DeploymentStatus.model_validate(view["status"]) == own
    assert AppStatus.model_validate(app["status"]) == await _live_status(env.client, "team-todo")
    listed = await api.get("/v1/apps/team-todo/deployments")
    assert [d["outcome"] for d in listed] == ["live"]


async def test_an_older_or_repeated_snapshot_never_replaces_a_newer_one(db: Database) -> None:
    views = StatusViews(db)
    await AppRepository(db).ensure("shop-app", "alice")
    newer = _app_status("shop-app", "alice", pending=2)
    older = newer.model_copy(update={"pending": 1})
    assert await views.record_app(newer, seq=20)
    assert not await views.record_app(older, seq=10)  # late
    assert not await views.record_app(older, seq=20)  # a retry of another snapshot's number
    assert await views.app("shop-app") == newer

    status = DeploymentStatus(
        deployment_id="d-1",
        app_id="shop-app",
        version=1,
        stage=Stage.TESTING,
        awaiting_review=False,
    )
    assert await views.record_deployment(status, seq=7)
    queued = status.model_copy(update={"stage": Stage.QUEUED})
    assert not await views.record_deployment(queued, seq=6)
    assert await views.deployment("shop-app", "d-1") == status
    assert await views.deployment("shop-app", "d-2") is None


async def test_status_rows_go_with_their_app_and_never_come_back(db: Database) -> None:
    views, apps = StatusViews(db), AppRepository(db)
    status = DeploymentStatus(
        deployment_id="d-1", app_id="gone-app", version=1, stage=Stage.LIVE, awaiting_review=False
    )
    app = _app_status("gone-app", "alice")
    assert not await views.record_app(app, seq=1)  # no such app: nothing stored
    await apps.ensure("gone-app", "alice")
    assert await views.record_app(app, seq=1)
    assert await views.record_deployment(status, seq=1)
    assert await apps.delete("gone-app", Actor(user_id="alice"), AuditLog(db))
    assert await views.app("gone-app") is None
    assert await views.deployment("gone-app", "d-1") is None
    # The retiring workflow publishes once more: refused, the app is deleted.
    assert not await views.record_app(app, seq=2)
    assert not await views.record_deployment(status, seq=2)
    assert await views.app("gone-app") is None


async def test_erasing_a_user_erases_their_apps_status_rows(db: Database) -> None:
    views = StatusViews(db)
    await TokenRepository(db).ensure_user("carol", "Carol")
    await TokenRepository(db).ensure_user("dave", "Dave")
    for app_id, owner in (("carol-app", "carol"), ("dave-app", "dave")):
        await AppRepository(db).ensure(app_id, owner)
        app = _app_status(app_id, owner)
        assert await views.record_app(app, seq=1)
        deployment = DeploymentStatus(
            deployment_id="d-1", app_id=app_id, version=1, stage=Stage.LIVE, awaiting_review=False
        )
        assert await views.record_deployment(deployment, seq=1)
    erasures = PrivacyErasures(db, AuditLog(db))
    await erasures.begin("carol", requested_by="carol")
    counts = await erasures.erase("carol")
    assert counts["app_status_views"] == 1 and counts["deployment_status_views"] == 1
    assert await views.app("carol-app") is None
    assert await views.deployment("carol-app", "d-1") is None
    assert await views.app("dave-app") is not None  # everyone else's stay


async def test_the_status_survives_continue_as_new(
    api: Api, env: WorkflowEnvironment, workers: WatchedPipeline
) -> None:
    await api.services.apps.ensure("busy-app", "alice")
    handle = await env.client.start_workflow(
        AppWorkflow.run,
        AppWorkflowInput(
            app_id="busy-app", owner_id="alice", max_history_events=100, watch_interval_s=0.01
        ),
        id=names.app_workflow_id("busy-app"),
        task_queue=names.PIPELINE_TASK_QUEUE,
    )
    first_run = handle.result_run_id
    for version in range(1, 8):
        r = await api.http.post(
            "/v1/apps/busy-app/deployments",
            json={"prompt": f"a poll, v{version}"},
            headers=api.auth,
        )
        assert r.status_code == 202, r.text
        await _settled(api, "busy-app", version)
    description = await env.client.get_workflow_handle(names.app_workflow_id("busy-app")).describe()
    assert description.run_id != first_run, f"never continued as new: {description.history_length}"
    published = AppStatus.model_validate((await api.get("/v1/apps/busy-app"))["status"])
    assert published == await _live_status(env.client, "busy-app")
    assert [d.version for d in published.deployments] == list(range(1, 8))


async def test_a_status_read_is_one_statement_and_still_checks_the_owner(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The credential's lookup reads the app's row too (bearer token and session): the
    route asks PostgreSQL nothing else, and Temporal nothing; another user's app read
    that way is still a 404, audited."""
    await api.services.apps.ensure("own-app", "alice")
    await api.services.views.record_app(_app_status("own-app", "alice", pending=3), seq=1)
    await TokenRepository(api.services.db).ensure_user("bob", "Bob")
    await api.services.apps.ensure("bobs-app", "bob")
    await api.services.views.record_app(_app_status("bobs-app", "bob"), seq=1)
    separate_reads = 0
    original = api.services.views.owner_and_app

    async def counted(app_id: str) -> Any:
        nonlocal separate_reads
        separate_reads += 1
        return await original(app_id)

    monkeypatch.setattr(api.services.views, "owner_and_app", counted)
    session = await api.services.sessions.create("alice", client_ip=None, user_agent="test")
    by_token = await api.get("/v1/apps/own-app")
    by_session = await api.http.get("/v1/apps/own-app", cookies={"mb_session": session.session_id})
    assert by_token["status"]["pending"] == 3
    assert by_session.status_code == 200 and by_session.json() == by_token
    assert separate_reads == 0 and api.temporal_queries == 0

    refused = await api.http.get("/v1/apps/bobs-app", headers=api.auth)
    assert refused.status_code == 404 and "not found" in refused.json()["detail"]
    denied = await api.services.audit.search(actor="alice", outcome="denied")
    assert [e.resource for e in denied] == ["app:bobs-app"]
    assert (await api.http.get("/v1/apps/no-such-app", headers=api.auth)).status_code == 404
    assert separate_reads == 0

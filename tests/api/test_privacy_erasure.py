"""DELETE /v1/me: a user erases themself through PrivacyErasureWorkflow (real erasure
activities against the database, the key directory and the workflows of a
time-skipping Temporal server; the pipeline itself is the scripted fake)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from activities.privacy_erasure import PrivacyErasureActivities
from api.app import create_app
from api.cookies import SESSION_COOKIE
from api.deps import CSRF_HEADER
from api.services import Services
from pipeline.operations import app_status, request_deployment
from pipeline.privacy import start_erasure
from schemas.audit import Actor
from schemas.deployment import DeployRequest
from schemas.privacy import ErasureProgress, ErasureResult
from schemas.settings import Settings
from store.apps import AppRepository
from store.audit import AuditLog
from store.db import Database
from store.key_rings import owner_keys
from store.mail_delivery import Mailer
from store.outbox import MailOutbox
from store.privacy_erasure import PrivacyErasures
from store.sessions import NewSession
from store.tokens import TokenRepository
from store.users import UserRepository
from temporal import names
from tests.workflows.pipeline_fakes import FakePipeline


@dataclass
class Api:
    http: httpx.AsyncClient
    services: Services
    sessions: dict[str, NewSession]
    tokens: dict[str, str]

    def as_session(self, user: str, *, csrf: bool = True) -> dict[str, str]:
        session = self.sessions[user]
        headers = {"Cookie": f"{SESSION_COOKIE}={session.session_id}"}
        if csrf:
            headers[CSRF_HEADER] = session.csrf_token
        return headers


@pytest.fixture
async def api(
    db: Database, env: WorkflowEnvironment, workers: FakePipeline, tmp_path: Path
) -> AsyncIterator[Api]:
    settings = Settings(data_dir=tmp_path / "data", rate_limit_per_minute=100_000)
    services = Services.build(settings, db, env.client)
    outbox = MailOutbox(db)
    workers.erasure = PrivacyErasureActivities(
        PrivacyErasures(db, AuditLog(db)),
        UserRepository(db),
        outbox,
        Mailer.from_settings(settings, outbox),
        owner_keys(settings),
        env.client,
    )
    tokens = TokenRepository(db)
    sessions, bearer = {}, {}
    for user in ("alice", "bob"):
        await tokens.ensure_user(user, user)
        async with db.connection() as conn:
            await conn.execute(
                "UPDATE users SET email = %s, email_verified_at = now() WHERE id = %s",
                (f"{user}@example.com", user),
            )
        bearer[user] = await tokens.issue(user)
        sessions[user] = await services.sessions.create(user, client_ip=None, user_agent="t")
        await AppRepository(db).ensure(f"{user}-app", user)
        await services.secrets.set(Actor(user_id=user), f"{user}-app", "API_KEY", f"{user}-v")
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(services)), base_url="http://testserver"
    ) as http:
        yield Api(http, services, sessions, bearer)


async def _deploy_live(env: WorkflowEnvironment, app_id: str, owner: str) -> None:
    request = DeployRequest(request_id=uuid.uuid4().hex, owner_id=owner, prompt="a todo list")
    deployment = await request_deployment(env.client, app_id, request)
    handle = env.client.get_workflow_handle(deployment)
    for _ in range(200):
        try:
            await handle.result()
            return
        except Exception:  # not started yet: the AppWorkflow dequeues it
            await env.sleep(timedelta(milliseconds=50))
    raise AssertionError(f"{deployment} never finished")


async def test_only_my_own_session_with_its_csrf_token_can_erase_me(api: Api) -> None:
    body = {"confirm_user_id": "alice"}
    bearer = {"Authorization": f"Bearer {api.tokens['alice']}"}
    attempts = [
        (bearer, body, 403),  # a token, even unscoped, cannot erase an account
        (api.as_session("alice", csrf=False), body, 403),  # a cross-site request
        (api.as_session("alice"), {"confirm_user_id": "bob"}, 422),  # someone else's id
        (api.as_session("alice"), {**body, "everything": True}, 422),  # unknown field
        ({}, body, 401),
    ]
    for headers, payload, expected in attempts:
        r = await api.http.request("DELETE", "/v1/me", headers=headers, json=payload)
        assert r.status_code == expected, (payload, r.text)
        assert "Traceback" not in r.text
    assert await PrivacyErasures(api.services.db, AuditLog(api.services.db)).status("alice") is None
    assert (await api.http.get("/v1/me", headers=bearer)).status_code == 200


async def test_erasing_myself_takes_everything_down_and_spares_bob(
    api: Api, env: WorkflowEnvironment, workers: FakePipeline
) -> None:
    await _deploy_live(env, "alice-app", "alice")
    assert workers.routes.get("alice-app")
    keys = owner_keys(api.services.settings)
    assert keys.exists("alice") and keys.exists("bob")

    r = await api.http.request(
        "DELETE", "/v1/me", headers=api.as_session("alice"), json={"confirm_user_id": "alice"}
    )
    assert r.status_code == 202, r.text
    handle = env.client.get_workflow_handle(r.json()["workflow_id"], result_type=ErasureResult)
    result = await handle.result()

    assert result.key_shredded and result.notified and result.erased["secrets"] == 1
    assert not keys.exists("alice") and keys.exists("bob")
    # The live app was taken offline by its workflow, which then ended.
    assert workers.routes.get("alice-app") is None
    assert "erase-retire:alice-app" in workers.calls
    assert (await app_status(env.client, "alice-app")).live is None
    # Alice's credentials are dead; Bob's work, and his secret still opens.
    for headers in (api.as_session("alice"), {"Authorization": f"Bearer {api.tokens['alice']}"}):
        assert (await api.http.get("/v1/me", headers=headers)).status_code == 401
    bob = {"Authorization": f"Bearer {api.tokens['bob']}"}
    assert (await api.http.get("/v1/me", headers=bob)).status_code == 200
    revealed = await api.services.secrets.reveal(Actor(user_id="bob"), "bob-app", "API_KEY")
    assert revealed[1] == "bob-v"
    user = await UserRepository(api.services.db).get("alice")
    assert user is not None and user.email is None
    # Asking again joins nothing and erases nothing more: the account is gone.
    again = await api.http.request(
        "DELETE", "/v1/me", headers=api.as_session("alice"), json={"confirm_user_id": "alice"}
    )
    assert again.status_code == 401


async def test_the_workflow_runs_the_steps_in_order_and_reports_progress(
    env: WorkflowEnvironment, workers: FakePipeline
) -> None:
    handle = await start_erasure(env.client, "carol", requested_by="operator:dpo")
    result = await handle.result()
    steps = [c for c in workers.calls if c.startswith("erase-")]
    assert steps == [
        "erase-begin:carol",
        "erase-notify",
        "erase-retire:shop",
        "erase-retire:blog",
        "erase-shred",
        "erase-data",
        "erase-histories",
        "erase-finish",
    ]
    assert result.histories_deleted == 4 and result.key_shredded
    progress = await handle.query("progress", result_type=ErasureProgress)
    assert progress.step == "done" and progress.apps_retired == progress.apps_total == 2
    # A second request for the same user gets the finished erasure; nothing runs again.
    again = await start_erasure(env.client, "carol", requested_by="x")
    assert again.id == names.privacy_erasure_workflow_id("carol")
    assert await again.result() == result
    assert workers.calls.count("erase-begin:carol") == 1

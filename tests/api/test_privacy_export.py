"""POST /v1/me/export: everything held about the caller, built by PrivacyExportWorkflow
(real activities against the database), and nothing about anybody else, no credential."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from activities.privacy import PrivacyActivities
from api.cookies import SESSION_COOKIE
from api.routes import privacy as privacy_routes
from api.services import Services
from monitoring.security_mail import SecurityMail
from schemas.audit import Actor
from schemas.moderation import ModerationResult
from schemas.settings import Settings
from store.apps import AppRepository
from store.artifacts import ArtifactStore
from store.audit import AuditLog
from store.db import Database
from store.mail_delivery import Mailer
from store.moderation_log import ModerationLog
from store.outbox import MailOutbox
from store.privacy_export import PrivacyExports
from store.secrets import SecretStore
from store.sessions import SessionStore
from store.tokens import TokenRepository
from store.users import UserRepository
from temporal import names
from tests.api.bearer import bearer_api
from tests.workflows.pipeline_fakes import FakePipeline

ALICE_SECRET = "alice-secret-value-123"
BOB_SECRET = "bob-secret-value-456"


@pytest.fixture
async def api(
    db: Database, env: WorkflowEnvironment, workers: FakePipeline, tmp_path: Path
) -> AsyncIterator[tuple[httpx.AsyncClient, dict[str, dict[str, str]]]]:
    settings = Settings(data_dir=tmp_path / "data")
    users = UserRepository(db)
    workers.privacy = PrivacyActivities(
        db,
        ArtifactStore(db),
        PrivacyExports(db),
        SecurityMail(users, Mailer.from_settings(settings, MailOutbox(db)), base_url="http://x"),
    )
    async with bearer_api(db, env.client, tmp_path / "data", ("alice", "bob")) as (http, auth):
        yield http, auth


async def _seed(db: Database, tmp_path: Path, env: WorkflowEnvironment) -> None:
    services = Services.build(Settings(data_dir=tmp_path / "data"), db, env.client)
    async with db.connection() as conn:
        await conn.execute(
            "UPDATE users SET email = 'alice@example.com', email_verified_at = now()"
            " WHERE id = 'alice'"
        )
    secrets: SecretStore = services.secrets
    for user, app, value in (("alice", "alice-app", ALICE_SECRET), ("bob", "bob-app", BOB_SECRET)):
        await AppRepository(db).ensure(app, user)
        await secrets.set(Actor(user_id=user), app, "API_KEY", value)
        await ModerationLog(db).record(
            deployment_id=f"{user}-dep-0001",
            owner_id=user,
            app_id=app,
            prompt=f"a {user} login page",
            result=ModerationResult(verdict="flag", reason="login page", backend="local"),
        )


def _sections(data: bytes) -> dict[str, Any]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return {
            name.removesuffix(".json"): json.loads(zf.read(name))
            for name in zf.namelist()
            if name.endswith(".json")
        }


async def test_an_export_holds_my_data_and_nothing_else(
    api: tuple[httpx.AsyncClient, dict[str, dict[str, str]]],
    db: Database,
    tmp_path: Path,
    env: WorkflowEnvironment,
) -> None:
    http, auth = api
    await _seed(db, tmp_path, env)
    r = await http.post("/v1/me/export", headers=auth["alice"])
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/zip"
    assert r.headers["cache-control"] == "no-store"
    sections = _sections(r.content)
    assert [a["id"] for a in sections["account"]] == ["alice"]
    assert [a["app_id"] for a in sections["apps"]] == ["alice-app"]
    assert [(s["name"], s["version"]) for s in sections["secrets"]] == [("API_KEY", 1)]
    assert [m["prompt"] for m in sections["moderation"]] == ["a alice login page"]
    assert any(e["action"] == "privacy.export" for e in sections["audit"])
    assert sections["tokens"] and all("token_sha256" not in t for t in sections["tokens"])
    everything = r.content.decode("latin-1") + json.dumps(sections)
    for foreign in ("bob-app", "a bob login page", BOB_SECRET, ALICE_SECRET):
        assert foreign not in everything, foreign
    assert auth["alice"]["Authorization"].split()[1] not in everything

    # The user is told, and the same archive can be fetched again by its id; not by Bob.
    mails = await MailOutbox(db).recent("alice@example.com")
    assert [m.subject for m in mails] == ["Your MicroBuilder data was exported"]
    export_id = r.headers["content-disposition"].split("export-")[1].split(".zip")[0]
    again = await http.get(f"/v1/me/export/{export_id}", headers=auth["alice"])
    assert again.status_code == 200 and again.content == r.content
    assert (await http.get(f"/v1/me/export/{export_id}", headers=auth["bob"])).status_code == 404


async def test_a_scoped_token_cannot_export(
    api: tuple[httpx.AsyncClient, dict[str, dict[str, str]]], db: Database
) -> None:
    http, _ = api
    token = await TokenRepository(db).issue("alice", scopes=frozenset({"apps:read"}))
    r = await http.post("/v1/me/export", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 403 and "scoped" in r.json()["detail"]


async def test_a_slow_export_answers_202_and_one_runs_at_a_time(
    db: Database, env: WorkflowEnvironment, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No worker polls here: the export stays "building".
    monkeypatch.setattr(privacy_routes, "WAIT_S", 0.5)
    async with bearer_api(db, env.client, tmp_path / "data", ("carol",)) as (http, auth):
        first = await http.post("/v1/me/export", headers=auth["carol"])
        assert first.status_code == 202 and first.headers["retry-after"] == "10"
        export_id = first.json()["export_id"]
        second = await http.post("/v1/me/export", headers=auth["carol"])
        assert second.status_code == 202 and second.json()["export_id"] == export_id
        not_yet = await http.get(f"/v1/me/export/{export_id}", headers=auth["carol"])
        assert not_yet.status_code == 404


async def test_a_session_starts_an_export_only_by_post_with_its_csrf_token(
    api: tuple[httpx.AsyncClient, dict[str, dict[str, str]]],
    db: Database,
    env: WorkflowEnvironment,
) -> None:
    """A cookie-only GET (a link or an image on another site) and a POST without the
    CSRF token start nothing, audit nothing and mail nothing."""
    http, _ = api
    async with db.connection() as conn:
        await conn.execute(
            "UPDATE users SET email = 'alice@example.com', email_verified_at = now()"
            " WHERE id = 'alice'"
        )
    sessions = SessionStore(
        db, idle_timeout=timedelta(hours=1), absolute_timeout=timedelta(hours=2)
    )
    session = await sessions.create("alice", client_ip="127.0.0.1", user_agent="browser")
    cookie = {"Cookie": f"{SESSION_COOKIE}={session.session_id}"}

    by_get = await http.get("/v1/me/export", headers=cookie)
    assert by_get.status_code == 405
    no_csrf = await http.post("/v1/me/export", headers=cookie)
    assert no_csrf.status_code == 403 and "X-CSRF-Token" in no_csrf.json()["detail"]
    with pytest.raises(RPCError):  # no export workflow was started
        await env.client.get_workflow_handle(names.privacy_export_workflow_id("alice")).describe()
    assert await AuditLog(db).search(action="privacy.export") == []
    assert await MailOutbox(db).recent("alice@example.com") == []

    started = await http.post(
        "/v1/me/export", headers={**cookie, "X-CSRF-Token": session.csrf_token}
    )
    assert started.status_code == 200 and started.headers["content-type"] == "application/zip"
    assert len(await AuditLog(db).search(action="privacy.export")) == 1

"""Owner checks on every /v1 route, generated from the app's route table: a route added
without a check (or without an entry here) fails this test.

Each route is called as the owner, another user, an operator who does not own the
object, and anonymously. Another user's request answers 404 (as for a missing object)
and is audited as denied.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from activities.privacy import PrivacyActivities
from api.app import create_app
from api.services import Services
from schemas.qa import QAGateReport
from schemas.settings import Settings
from store.audit import AuditLog
from store.db import Database
from store.privacy_export import PrivacyExports
from store.tokens import TokenRepository
from tests.workflows.pipeline_fakes import FakePipeline

APP = "shop-app"
OWNER, OTHER, OPERATOR = "alice", "bob", "ops"

# Bodies for the routes that need one (a new route needing a body must be added here).
BODIES: dict[tuple[str, str], object] = {
    ("POST", "/v1/apps/{app_id}/deployments"): {"prompt": "a todo list for my team"},
    ("POST", "/v1/apps/{app_id}/rollback"): {},
    ("PUT", "/v1/apps/{app_id}/secrets/{name}"): {"value": "s3cret"},
    ("POST", "/v1/tokens"): {"name": "ci", "scopes": ["apps:read"]},
    ("POST", "/v1/apps"): {"app_id": "fresh-app"},
    ("DELETE", "/v1/me"): {"confirm_user_id": "alice"},
    ("POST", "/v1/review/{app_id}/{deployment_id}"): {"decision": "approve", "reason": "fine"},
    ("POST", "/v1/users/{user_id}/reinstate"): {"reason": "appeal accepted"},
    ("PUT", "/v1/qa-overrides/{app_id}"): {"policy": {"mutation_threshold": 0.5}, "reason": "old"},
    ("POST", "/v1/egress/review/{app_id}"): {
        "target": "api.example.com:443",
        "decision": "approve",
        "reason": "the app's weather API",
    },
}
# Routes about no object of anyone's: what each caller gets (anonymous: always 401).
UNOWNED: dict[tuple[str, str], dict[str, int]] = {
    ("GET", "/v1/apps"): {OWNER: 200, OTHER: 200, OPERATOR: 200},
    ("GET", "/v1/audit"): {OWNER: 403, OTHER: 403, OPERATOR: 200},
    ("GET", "/v1/audit/verify"): {OWNER: 403, OTHER: 403, OPERATOR: 200},
    ("GET", "/v1/me"): {OWNER: 200, OTHER: 200, OPERATOR: 200},
    # an app id is first come, first served
    ("POST", "/v1/apps"): {OWNER: 201, OTHER: 409, OPERATOR: 409},
    ("GET", "/v1/review"): {OWNER: 403, OTHER: 403, OPERATOR: 200},
    ("GET", "/v1/moderation"): {OWNER: 403, OTHER: 403, OPERATOR: 200},
    ("GET", "/v1/incidents"): {OWNER: 403, OTHER: 403, OPERATOR: 200},
    ("GET", "/v1/alerts"): {OWNER: 403, OTHER: 403, OPERATOR: 200},
    ("GET", "/v1/egress/review"): {OWNER: 403, OTHER: 403, OPERATOR: 200},
    ("GET", "/v1/egress/refusals"): {OWNER: 403, OTHER: 403, OPERATOR: 200},
    ("GET", "/v1/hosts"): {OWNER: 403, OTHER: 403, OPERATOR: 200},
    ("POST", "/v1/me/export"): {OWNER: 200, OTHER: 200, OPERATOR: 200},
    # only a signed-in session erases an account, never a token
    ("DELETE", "/v1/me"): {OWNER: 403, OTHER: 403, OPERATOR: 403},
    ("GET", "/v1/tokens"): {OWNER: 200, OTHER: 200, OPERATOR: 200},
    ("POST", "/v1/tokens"): {OWNER: 201, OTHER: 201, OPERATOR: 201},
    # a bearer token is not a session: nothing to log out of
    ("POST", "/v1/auth/logout"): {OWNER: 400, OTHER: 400, OPERATOR: 400},
    ("POST", "/v1/auth/logout-everywhere"): {OWNER: 200, OTHER: 200, OPERATOR: 200},
    # operator-provisioned users have no email address to verify
    ("POST", "/v1/auth/verify-email/resend"): {OWNER: 409, OTHER: 409, OPERATOR: 409},
}
# Operator routes about one object: users are refused, the operator reaches the object
# (here: a deployment that is not awaiting review).
OPERATOR_ONLY: dict[tuple[str, str], dict[str, int]] = {
    ("POST", "/v1/review/{app_id}/{deployment_id}"): {OWNER: 403, OTHER: 403, OPERATOR: 409},
    # the owner is not suspended
    ("POST", "/v1/users/{user_id}/reinstate"): {OWNER: 403, OTHER: 403, OPERATOR: 409},
    # an app's QA floor: there is no override to clear until the PUT (routes run in order)
    ("DELETE", "/v1/qa-overrides/{app_id}"): {OWNER: 403, OTHER: 403, OPERATOR: 404},
    ("GET", "/v1/qa-overrides/{app_id}"): {OWNER: 403, OTHER: 403, OPERATOR: 200},
    ("PUT", "/v1/qa-overrides/{app_id}"): {OWNER: 403, OTHER: 403, OPERATOR: 200},
    # an operator's egress decision for the app (audited)
    ("POST", "/v1/egress/review/{app_id}"): {OWNER: 403, OTHER: 403, OPERATOR: 200},
}
# The login flow's own routes answer anonymous callers (no OIDC provider is configured
# here, and these calls lack their query parameters): never 401, never 5xx but the 503.
PUBLIC: dict[tuple[str, str], int] = {
    ("GET", "/v1/auth/login"): 503,
    ("GET", "/v1/auth/callback"): 422,
    ("GET", "/v1/auth/verify-email"): 422,
}


@dataclass
class World:
    http: httpx.AsyncClient
    tokens: dict[str, str]
    deployment_id: str
    db: Database
    routes: list[tuple[str, str]]
    owner_token_id: str
    owner_export_id: str

    def url(self, path: str) -> str:
        values = {
            "app_id": APP,
            "deployment_id": self.deployment_id,
            "name": "TOKEN",
            "token_id": self.owner_token_id,
            "user_id": OWNER,
            "export_id": self.owner_export_id,
        }
        return re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], path)

    async def call(self, method: str, path: str, user: str | None) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.tokens[user]}"} if user else {}
        body = BODIES.get((method, path))
        return await self.http.request(method, self.url(path), json=body, headers=headers)


@pytest.fixture
async def world(
    db: Database, env: WorkflowEnvironment, workers: FakePipeline, tmp_path: Path
) -> AsyncIterator[World]:
    settings = Settings(
        data_dir=tmp_path / "data", operator_ids=OPERATOR, rate_limit_per_minute=100_000
    )
    services = Services.build(settings, db, env.client)
    tokens = TokenRepository(db)
    issued = {}
    for user in (OWNER, OTHER, OPERATOR):
        await tokens.ensure_user(user, user)
        issued[user] = await tokens.issue(user)
    app = create_app(services)
    # Every operation the app publishes (FastAPI builds the schema from its route table).
    # Deleting the app comes last: every other route needs it.
    routes = sorted(
        (
            (method.upper(), path)
            for path, operations in app.openapi()["paths"].items()
            if path.startswith("/v1")
            for method in operations
        ),
        key=lambda r: (r == ("DELETE", "/v1/apps/{app_id}"), r),
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as http:
        auth = {"Authorization": f"Bearer {issued[OWNER]}"}
        started = await http.post(
            f"/v1/apps/{APP}/deployments", json={"prompt": "a todo list"}, headers=auth
        )
        assert started.status_code == 202, started.text
        deployment_id = started.json()["deployment_id"]
        # The scripted QA activities store no report: store the one the real gate would.
        report = QAGateReport(
            bundle_hash="b" * 64, deployment_id=deployment_id, verdict="pass", stages=[]
        )
        digest = await services.artifacts.put("qa-report", report.model_dump_json().encode())
        await services.qa_reports.save_report(
            deployment_id=deployment_id,
            app_id=APP,
            owner_id=OWNER,
            bundle_hash="b" * 64,
            verdict="pass",
            report_sha256=digest,
            summary="all stages passed",
        )
        owner_token_id, _ = await tokens.issue_with_id(OWNER, name="to revoke")
        # The owner's data export, built by the real privacy activities.
        workers.privacy = PrivacyActivities(
            db, services.artifacts, PrivacyExports(db), services.notices
        )
        export = await http.post("/v1/me/export", headers=auth)
        assert export.status_code == 200, export.text
        export_id = export.headers["content-disposition"].split("export-")[1].split(".zip")[0]
        yield World(http, issued, deployment_id, db, routes, owner_token_id, export_id)


def test_the_route_table_is_covered(world: World) -> None:
    owned = [r for r in world.routes if "{" in r[1]]
    assert len(owned) >= 10  # apps, deployments, reports, secrets, rollback
    assert set(UNOWNED) | set(PUBLIC) == {r for r in world.routes if "{" not in r[1]}
    assert set(OPERATOR_ONLY) <= set(world.routes)


async def test_every_route_checks_the_owner(world: World) -> None:
    audit = AuditLog(world.db)
    problems: list[str] = []
    for method, path in world.routes:
        anonymous = await world.call(method, path, None)
        if (method, path) in PUBLIC:
            if anonymous.status_code != PUBLIC[method, path]:
                problems.append(f"{method} {path} anonymous -> {anonymous.status_code}")
            continue
        if anonymous.status_code != 401:
            problems.append(f"{method} {path} anonymous -> {anonymous.status_code}")
        expectations = UNOWNED.get((method, path)) or OPERATOR_ONLY.get((method, path))
        if expectations is not None:
            for user, expected in expectations.items():
                got = (await world.call(method, path, user)).status_code
                if got != expected:
                    problems.append(f"{method} {path} {user} -> {got}, expected {expected}")
            continue
        for intruder in (OTHER, OPERATOR):
            before = len(await audit.search(actor=intruder, outcome="denied", limit=10_000))
            r = await world.call(method, path, intruder)
            after = len(await audit.search(actor=intruder, outcome="denied", limit=10_000))
            if r.status_code != 404:
                problems.append(f"{method} {path} {intruder} -> {r.status_code}, expected 404")
            elif after != before + 1:
                problems.append(f"{method} {path} {intruder}: refusal not audited")
            if "s3cret" in r.text:
                problems.append(f"{method} {path} {intruder}: leaked a secret value")
        # The owner may get any answer but "not yours": 401, 403 and 404 are wrong.
        if path.endswith("/secrets/{name}") or path.endswith("/reveal"):
            await world.call("PUT", "/v1/apps/{app_id}/secrets/{name}", OWNER)
        owner = await world.call(method, path, OWNER)
        if owner.status_code in (401, 403, 404) or owner.status_code >= 500:
            problems.append(f"{method} {path} owner -> {owner.status_code}: {owner.text[:200]}")
    assert problems == [], "\n".join(problems)


async def test_an_unknown_object_looks_the_same_as_another_users(world: World) -> None:
    auth = {"Authorization": f"Bearer {world.tokens[OTHER]}"}
    missing = await world.http.get(f"/v1/apps/no-such-{uuid.uuid4().hex[:6]}", headers=auth)
    foreign = await world.http.get(f"/v1/apps/{APP}", headers=auth)
    assert missing.status_code == foreign.status_code == 404
    assert missing.json()["detail"].split("'")[0] == foreign.json()["detail"].split("'")[0]

"""The QA gate's floor: a deployment may make the gate stricter than the platform's minimum,
never weaker; only an operator may lower an app's minimum, and that is audited (HTTP API
over real PostgreSQL and Temporal's time-skipping server)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from api.services import Services
from schemas.settings import Settings
from store.audit import AuditLog
from store.db import Database
from store.tokens import TokenRepository
from tests.workflows.pipeline_fakes import FakePipeline

OPERATOR = "ops"
APP = "legacy-app"


class Api:
    def __init__(self, http: httpx.AsyncClient, tokens: dict[str, str], db: Database) -> None:
        self.http = http
        self.tokens = tokens
        self.db = db

    def as_(self, user: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[user]}"}

    async def deploy(self, user: str, app_id: str, qa: dict[str, Any] | None) -> httpx.Response:
        body: dict[str, Any] = {"prompt": "a todo list for my team"}
        if qa is not None:
            body["qa"] = qa
        return await self.http.post(
            f"/v1/apps/{app_id}/deployments", json=body, headers=self.as_(user)
        )

    async def override(self, user: str, app_id: str, policy: dict[str, Any]) -> httpx.Response:
        return await self.http.put(
            f"/v1/qa-overrides/{app_id}",
            json={"policy": policy, "reason": "legacy code mutmut cannot reach"},
            headers=self.as_(user),
        )

    async def deployments(self, app_id: str) -> int:
        r = await self.http.get(f"/v1/apps/{app_id}", headers=self.as_("alice"))
        return len(r.json()["status"]["deployments"]) if r.status_code == 200 else 0


@pytest.fixture
async def api(
    db: Database, env: WorkflowEnvironment, workers: FakePipeline, tmp_path: Path
) -> AsyncIterator[Api]:
    settings = Settings(
        data_dir=tmp_path / "data", operator_ids=OPERATOR, rate_limit_per_minute=100_000
    )
    services = Services.build(settings, db, env.client)
    tokens = TokenRepository(db)
    issued = {}
    for user in ("alice", "bob", OPERATOR):
        await tokens.ensure_user(user, user)
        issued[user] = await tokens.issue(user)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(services)), base_url="http://testserver"
    ) as http:
        yield Api(http, issued, db)


@pytest.mark.parametrize(
    ("qa", "named"),
    [
        ({"mutation_threshold": 0}, "mutation_threshold"),
        ({"min_mutable_fraction": 0}, "min_mutable_fraction"),
        ({"mutation_threshold": 0, "min_mutable_fraction": 0}, "min_mutable_fraction"),
        ({"fuzz_examples": 1}, "fuzz_examples"),
        ({"bandit_fail_severity_high_confidence": "HIGH"}, "bandit_fail_severity_high_confidence"),
    ],
)
@pytest.mark.reliability(
    "QA gate lowered",
    done="Ask for mutation_threshold 0, min_mutable_fraction 0, one fuzz example or a laxer"
    " bandit policy; set an app's QA floor as its owner",
)
async def test_a_weaker_request_than_the_platform_is_refused_and_nothing_starts(
    api: Api, workers: FakePipeline, qa: dict[str, Any], named: str
) -> None:
    """A weaker request gets 422 naming the knob and nothing starts; only an operator
    lowers an app's floor, audited, and only for that app."""
    r = await api.deploy("alice", "weak-app", qa)

    assert r.status_code == 422, r.text
    assert named in r.json()["detail"] and "stricter" in r.json()["detail"]
    assert (await api.http.get("/v1/apps", headers=api.as_("alice"))).json() == []
    assert workers.calls == []


async def test_a_stricter_request_is_accepted(api: Api) -> None:
    strict = {
        "mutation_threshold": 0.9,
        "min_mutable_fraction": 0.8,
        "fuzz_examples": 200,
        "bandit_fail_severity": "LOW",
        "bandit_fail_severity_high_confidence": "LOW",
        "mutation_timeout_s": 60,  # timeouts do not weaken the gate: a timed-out stage fails
    }
    assert (await api.deploy("alice", "strict-app", strict)).status_code == 202


@pytest.mark.reliability(
    "QA gate lowered",
    done="Ask for mutation_threshold 0, min_mutable_fraction 0, one fuzz example or a laxer"
    " bandit policy; set an app's QA floor as its owner",
)
async def test_only_an_operator_lowers_an_apps_floor_and_it_is_audited(api: Api) -> None:
    """A weaker request gets 422 naming the knob and nothing starts; only an operator
    lowers an app's floor, audited, and only for that app."""
    assert (await api.deploy("alice", APP, None)).status_code == 202
    audit = AuditLog(api.db)

    for user in ("alice", "bob"):  # the owner cannot either
        refused = await api.override(user, APP, {"mutation_threshold": 0.3})
        assert refused.status_code == 403, refused.text
    floor = await api.http.get(f"/v1/qa-overrides/{APP}", headers=api.as_(OPERATOR))
    assert floor.json()["override"] is None
    assert await audit.search(action="qa.override.set") == []

    r = await api.override(OPERATOR, APP, {"mutation_threshold": 0.3, "min_mutable_fraction": 0.2})

    assert r.status_code == 200, r.text
    assert r.json()["set_by"] == OPERATOR
    [entry] = await audit.search(action="qa.override.set")
    assert entry.actor == OPERATOR and entry.resource == f"app:{APP}"
    assert entry.detail["reason"] == "legacy code mutmut cannot reach"
    assert any("mutation_threshold 0.3" in line for line in entry.detail["below_platform"])
    floor = await api.http.get(f"/v1/qa-overrides/{APP}", headers=api.as_(OPERATOR))
    assert floor.json()["floor"]["mutation_threshold"] == 0.3
    assert floor.json()["platform"]["mutation_threshold"] == 0.7


async def test_the_override_sets_the_floor_of_its_app_only(api: Api) -> None:
    for app_id in (APP, "other-app"):
        assert (await api.deploy("alice", app_id, None)).status_code == 202
    lowered = {"mutation_threshold": 0.3, "min_mutable_fraction": 0.2}
    assert (await api.override(OPERATOR, APP, lowered)).status_code == 200
    between = {"mutation_threshold": 0.5, "min_mutable_fraction": 0.4}
    before = await api.deployments(APP)

    below = await api.deploy("alice", APP, {"mutation_threshold": 0.2})
    assert below.status_code == 422 and "minimum 0.3" in below.json()["detail"]
    assert await api.deployments(APP) == before
    # Between the override and the platform's minimum: only where the override is.
    assert (await api.deploy("alice", APP, between)).status_code == 202
    assert (await api.deploy("alice", "other-app", between)).status_code == 422
    # Another user learns nothing about the app's floor.
    assert (await api.deploy("bob", APP, between)).status_code == 404

    cleared = await api.http.delete(
        f"/v1/qa-overrides/{APP}", params={"reason": "code refactored"}, headers=api.as_(OPERATOR)
    )
    assert cleared.status_code == 204
    [entry] = await AuditLog(api.db).search(action="qa.override.clear")
    assert entry.actor == OPERATOR and entry.detail == {"reason": "code refactored"}
    assert (await api.deploy("alice", APP, between)).status_code == 422


async def test_an_override_needs_an_existing_app_and_a_plain_reason(api: Api) -> None:
    missing = await api.override(OPERATOR, "no-such-app", {"mutation_threshold": 0.1})
    assert missing.status_code == 404
    assert (await api.deploy("alice", APP, None)).status_code == 202
    r = await api.http.put(
        f"/v1/qa-overrides/{APP}",
        json={"policy": {"mutation_threshold": 0.1}, "reason": "why\x00"},
        headers=api.as_(OPERATOR),
    )
    assert r.status_code == 422 and "U+0000" in r.json()["detail"]
    typo = await api.override(OPERATOR, APP, {"mutation_treshold": 0.1})
    assert typo.status_code == 422 and "mutation_treshold" in typo.json()["detail"]
    assert await AuditLog(api.db).search(action="qa.override.set") == []

"""The operators' review queue over HTTP: flagged deployments wait, operators decide, audited."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from schemas.moderation import ModerationResult
from store.apps import AppRepository
from store.audit import AuditLog
from store.db import Database
from store.moderation_log import ModerationLog
from store.users import UserRepository
from tests.api.bearer import bearer_api
from tests.workflows.pipeline_fakes import FakePipeline


@pytest.fixture
async def api(
    db: Database, env: WorkflowEnvironment, workers: FakePipeline, tmp_path: Path
) -> AsyncIterator[tuple[httpx.AsyncClient, dict[str, dict[str, str]]]]:
    async with bearer_api(
        db, env.client, tmp_path / "data", ("alice", "ops"), operator_ids="ops"
    ) as (http, auth):
        yield http, auth


async def _flagged(http: httpx.AsyncClient, auth: dict[str, str], db: Database, app_id: str) -> str:
    """Start a deployment the (scripted) moderation flags; log it as the real activity does."""
    prompt = "FLAGME a page about my club"
    r = await http.post(f"/v1/apps/{app_id}/deployments", json={"prompt": prompt}, headers=auth)
    assert r.status_code == 202, r.text
    deployment_id: str = r.json()["deployment_id"]
    await ModerationLog(db).record(
        deployment_id=deployment_id,
        owner_id="alice",
        app_id=app_id,
        prompt=prompt,
        result=ModerationResult(verdict="flag", reason="ambiguous", backend="local"),
    )
    return deployment_id


async def _queue(http: httpx.AsyncClient, ops: dict[str, str], want: int) -> list[dict[str, str]]:
    for _ in range(200):
        r = await http.get("/v1/review", headers=ops)
        assert r.status_code == 200, r.text
        if len(r.json()) == want:
            return r.json()  # type: ignore[no-any-return]
        await asyncio.sleep(0.05)
    raise AssertionError(f"the queue never held {want} item(s): {r.json()}")


async def _outcome(http: httpx.AsyncClient, auth: dict[str, str], app_id: str, dep: str) -> str:
    for _ in range(400):
        r = await http.get(f"/v1/apps/{app_id}/deployments/{dep}", headers=auth)
        outcome = r.json()["summary"]["outcome"]
        if outcome not in ("pending", "running"):
            return str(outcome)
        await asyncio.sleep(0.05)
    raise AssertionError("the deployment never finished")


async def test_operators_work_the_queue_and_each_decision_is_audited(
    api: tuple[httpx.AsyncClient, dict[str, dict[str, str]]], db: Database
) -> None:
    http, auth = api
    first = await _flagged(http, auth["alice"], db, "club-page")
    second = await _flagged(http, auth["alice"], db, "club-other")
    queue = await _queue(http, auth["ops"], 2)
    assert [q["deployment_id"] for q in queue] == [first, second]
    assert queue[0]["prompt"] == "FLAGME a page about my club" and queue[0]["owner_id"] == "alice"

    assert (await http.get("/v1/review", headers=auth["alice"])).status_code == 403
    by_owner = await http.post(
        f"/v1/review/club-page/{first}",
        json={"decision": "approve", "reason": "mine"},
        headers=auth["alice"],
    )
    assert by_owner.status_code == 403  # nobody approves their own flagged prompt

    approve = await http.post(
        f"/v1/review/club-page/{first}",
        json={"decision": "approve", "reason": "a sports club, harmless"},
        headers=auth["ops"],
    )
    assert approve.status_code == 202, approve.text
    reject = await http.post(
        f"/v1/review/club-other/{second}",
        json={"decision": "reject", "reason": "impersonates a bank"},
        headers=auth["ops"],
    )
    assert reject.status_code == 202
    assert await _outcome(http, auth["alice"], "club-page", first) == "live"
    assert await _outcome(http, auth["alice"], "club-other", second) == "rejected"
    assert await _queue(http, auth["ops"], 0) == []

    again = await http.post(
        f"/v1/review/club-page/{first}",
        json={"decision": "reject", "reason": "changed my mind"},
        headers=auth["ops"],
    )
    assert again.status_code == 409 and "not awaiting review" in again.json()["detail"]
    decisions = await AuditLog(db).search(action="review.decide", limit=10)
    assert sorted((d.actor, d.detail["decision"]) for d in decisions) == [
        ("ops", "approve"),
        ("ops", "reject"),
    ]


async def test_a_decision_needs_a_reason_and_a_known_deployment(
    api: tuple[httpx.AsyncClient, dict[str, dict[str, str]]],
) -> None:
    http, auth = api
    no_reason = await http.post(
        "/v1/review/club-page/abc", json={"decision": "approve"}, headers=auth["ops"]
    )
    assert no_reason.status_code == 422 and "reason" in no_reason.json()["detail"]
    unknown = await http.post(
        "/v1/review/club-page/abcdefgh",
        json={"decision": "approve", "reason": "ok"},
        headers=auth["ops"],
    )
    assert unknown.status_code == 404


async def test_operators_search_the_moderation_log_and_the_read_is_audited(
    api: tuple[httpx.AsyncClient, dict[str, dict[str, str]]], db: Database
) -> None:
    http, auth = api
    log = ModerationLog(db)
    for i, (verdict, prompt) in enumerate(
        [
            ("block", "a PayPal login lookalike that keeps passwords"),
            ("flag", "a login page for my 100% legit_bank club"),
            ("block", "a keylogger in a browser extension"),
        ]
    ):
        await log.record(
            deployment_id=f"dep-{i:05d}",
            owner_id="alice" if i < 2 else "bob",
            app_id=f"app-{i}",
            prompt=prompt,
            result=ModerationResult(verdict=verdict, reason=f"reason {i}", backend="local"),
        )
    everything = await http.get("/v1/moderation", headers=auth["ops"])
    assert [e["deployment_id"] for e in everything.json()] == [
        "dep-00002",
        "dep-00001",
        "dep-00000",
    ]
    blocked = await http.get("/v1/moderation?verdict=block&owner=alice", headers=auth["ops"])
    assert [e["deployment_id"] for e in blocked.json()] == ["dep-00000"]
    literal = await http.get("/v1/moderation", params={"q": "100% legit_"}, headers=auth["ops"])
    assert [e["deployment_id"] for e in literal.json()] == ["dep-00001"]
    wildcard = await http.get("/v1/moderation", params={"q": "%"}, headers=auth["ops"])
    assert [e["deployment_id"] for e in wildcard.json()] == ["dep-00001"]  # % taken literally
    assert (await http.get("/v1/moderation", headers=auth["alice"])).status_code == 403
    bad = await http.get("/v1/moderation?verdict=allow", headers=auth["ops"])
    assert bad.status_code == 422
    reads = await AuditLog(db).search(action="moderation.read", limit=10)
    assert len(reads) == 4 and {r.actor for r in reads} == {"ops"}


async def test_a_suspended_user_cannot_deploy_until_an_operator_reinstates_them(
    api: tuple[httpx.AsyncClient, dict[str, dict[str, str]]], db: Database
) -> None:
    http, auth = api
    users = UserRepository(db)
    assert await users.suspend("alice", "3 blocked prompts in 10 minutes")
    body = {"prompt": "a todo list"}
    refused = await http.post("/v1/apps/todo-app/deployments", json=body, headers=auth["alice"])
    assert refused.status_code == 403 and "suspended" in refused.json()["detail"]
    assert await AppRepository(db).owner("todo-app") is None  # nothing was created
    by_user = await http.post(
        "/v1/users/alice/reinstate", json={"reason": "mine"}, headers=auth["alice"]
    )
    assert by_user.status_code == 403
    no_reason = await http.post("/v1/users/alice/reinstate", json={}, headers=auth["ops"])
    assert no_reason.status_code == 422
    ok = await http.post(
        "/v1/users/alice/reinstate", json={"reason": "talked to them"}, headers=auth["ops"]
    )
    assert ok.status_code == 200
    again = await http.post(
        "/v1/users/alice/reinstate", json={"reason": "twice"}, headers=auth["ops"]
    )
    assert again.status_code == 409
    unknown = await http.post(
        "/v1/users/nobody/reinstate", json={"reason": "x"}, headers=auth["ops"]
    )
    assert unknown.status_code == 404
    deployed = await http.post("/v1/apps/todo-app/deployments", json=body, headers=auth["alice"])
    assert deployed.status_code == 202
    (row,) = await AuditLog(db).search(action="user.reinstate")
    assert row.actor == "ops" and row.detail == {"reason": "talked to them"}

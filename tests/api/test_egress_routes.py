"""Egress over the HTTP API: operators work the egress review queue and read refusals,
owners see their app's egress per host, nobody else sees either (real PostgreSQL)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from api.app import create_app
from api.services import Services
from runtime.egress.decision_log import DecisionLog
from schemas.egress import EgressDecision, RefusalReason
from schemas.settings import Settings
from store.audit import AuditLog
from store.db import Database
from store.egress import EgressApprovals, EgressRecords
from store.tokens import TokenRepository


class Api:
    def __init__(self, http: httpx.AsyncClient, tokens: dict[str, str]) -> None:
        self.http = http
        self.tokens = tokens

    def as_(self, user: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[user]}"}


@pytest.fixture
async def api(db: Database, tmp_path: Path) -> AsyncIterator[Api]:
    settings = Settings(data_dir=tmp_path / "d", operator_ids="ops", rate_limit_per_minute=10_000)
    services = Services.build(settings, db, temporal=None)  # type: ignore[arg-type]
    tokens = TokenRepository(db)
    issued = {}
    for user in ("alice", "bob", "ops"):
        await tokens.ensure_user(user, user)
        issued[user] = await tokens.issue(user)
    await services.apps.ensure("wx-app", "alice")
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(services)), base_url="http://testserver"
    ) as http:
        yield Api(http, issued)


async def test_operators_approve_declared_targets_once_per_app(api: Api, db: Database) -> None:
    approvals = EgressApprovals(db, AuditLog(db))
    await approvals.approved("wx-app", 1, ["api.example.com:443", "tiles.example.org:443"])

    assert (await api.http.get("/v1/egress/review", headers=api.as_("alice"))).status_code == 403
    queue = (await api.http.get("/v1/egress/review", headers=api.as_("ops"))).json()
    assert [(q["app_id"], q["target"], q["version"]) for q in queue] == [
        ("wx-app", "api.example.com:443", 1),
        ("wx-app", "tiles.example.org:443", 1),
    ]

    body = {"target": "api.example.com:443", "decision": "approve", "reason": "weather API"}
    r = await api.http.post("/v1/egress/review/wx-app", json=body, headers=api.as_("alice"))
    assert r.status_code == 403  # an owner cannot approve their own app's egress
    r = await api.http.post("/v1/egress/review/wx-app", json=body, headers=api.as_("ops"))
    assert r.status_code == 200 and r.json() == {
        "app_id": "wx-app",
        "target": "api.example.com:443",
        "decision": "approve",
    }
    r = await api.http.post("/v1/egress/review/nope", json=body, headers=api.as_("ops"))
    assert r.status_code == 404
    for bad, why in (
        ({**body, "target": "169.254.169.254:80"}, "IP literal"),
        ({**body, "target": "*.com:443"}, "at least two labels"),
        ({**body, "reason": ""}, "reason"),
        ({**body, "decision": "maybe"}, "decision"),
    ):
        r = await api.http.post("/v1/egress/review/wx-app", json=bad, headers=api.as_("ops"))
        assert r.status_code == 422 and why in r.text, r.text

    assert await approvals.approved("wx-app", 2, ["api.example.com:443"]) == {"api.example.com:443"}
    queue = (await api.http.get("/v1/egress/review", headers=api.as_("ops"))).json()
    assert [q["target"] for q in queue] == ["tiles.example.org:443"]


async def test_owners_see_egress_per_host_and_operators_see_refusals(
    api: Api, db: Database, tmp_path: Path
) -> None:
    log = DecisionLog(tmp_path / "decisions.jsonl")
    base = {
        "at": 1_800_000_000.0,
        "app_id": "wx-app",
        "version": 1,
        "port": 443,
        "method": "CONNECT",
    }
    log.record(
        EgressDecision.model_validate(
            {**base, "host": "api.example.com", "allowed": True, "bytes_up": 7, "bytes_down": 70}
        )
    )
    log.record(
        EgressDecision.model_validate(
            {
                **base,
                "host": "evil.example.net",
                "allowed": False,
                "reason": RefusalReason.NOT_DECLARED,
            }
        )
    )
    await EgressRecords(db).ingest("local", log.path)

    mine = (await api.http.get("/v1/apps/wx-app/egress", headers=api.as_("alice"))).json()
    assert [(u["host"], u["connections"], u["bytes_down"], u["refused"]) for u in mine] == [
        ("api.example.com", 1, 70, 0),
        ("evil.example.net", 0, 0, 1),
    ]
    assert (await api.http.get("/v1/apps/wx-app/egress", headers=api.as_("bob"))).status_code == 404

    assert (await api.http.get("/v1/egress/refusals", headers=api.as_("alice"))).status_code == 403
    refusals = (await api.http.get("/v1/egress/refusals", headers=api.as_("ops"))).json()
    assert [(r["app_id"], r["target"], r["port"], r["reason"]) for r in refusals] == [
        ("wx-app", "evil.example.net", 443, "not_declared")
    ]

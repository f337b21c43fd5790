"""Service tokens: scoped, hashed at rest, revocable, owner-checked, never able to mint more."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from store.audit import AuditLog
from store.db import Database
from tests.api.bearer import bearer_api
from tests.workflows.pipeline_fakes import FakePipeline


@pytest.fixture
async def api(
    db: Database, env: WorkflowEnvironment, workers: FakePipeline, tmp_path: Path
) -> AsyncIterator[tuple[httpx.AsyncClient, dict[str, dict[str, str]]]]:
    async with bearer_api(db, env.client, tmp_path / "data", ("alice", "bob")) as (http, auth):
        yield http, auth


async def _mint(http: httpx.AsyncClient, auth: dict[str, str], *scopes: str) -> dict[str, str]:
    r = await http.post(
        "/v1/tokens", json={"name": "ci deploys", "scopes": list(scopes)}, headers=auth
    )
    assert r.status_code == 201, r.text
    return {"Authorization": f"Bearer {r.json()['token']}", "id": r.json()["id"]}


async def test_a_token_can_do_what_its_scopes_allow_and_nothing_else(
    api: tuple[httpx.AsyncClient, dict[str, dict[str, str]]],
) -> None:
    http, auth = api
    reader = await _mint(http, auth["alice"], "apps:read")
    headers = {"Authorization": reader["Authorization"]}
    assert (await http.get("/v1/apps", headers=headers)).status_code == 200
    deploy = await http.post(
        "/v1/apps/alice-app/deployments", json={"prompt": "a todo list"}, headers=headers
    )
    assert deploy.status_code == 403 and "apps:write" in deploy.json()["detail"]
    assert (await http.get("/v1/apps", headers=auth["alice"])).json() == []  # nothing created

    deployer = await _mint(http, auth["alice"], "apps:read", "apps:write")
    d_headers = {"Authorization": deployer["Authorization"]}
    ok = await http.post(
        "/v1/apps/alice-app/deployments", json={"prompt": "a todo list"}, headers=d_headers
    )
    assert ok.status_code == 202, ok.text
    secrets = await http.get("/v1/apps/alice-app/secrets", headers=d_headers)
    assert secrets.status_code == 403 and "secrets:read" in secrets.json()["detail"]
    me = (await http.get("/v1/me", headers=d_headers)).json()
    assert me["via"] == "token" and me["scopes"] == ["apps:read", "apps:write"]


async def test_a_scoped_token_cannot_mint_or_list_tokens(
    api: tuple[httpx.AsyncClient, dict[str, dict[str, str]]],
) -> None:
    http, auth = api
    everything = await _mint(
        http, auth["alice"], "apps:read", "apps:write", "secrets:read", "secrets:write"
    )
    headers = {"Authorization": everything["Authorization"]}
    wider = await http.post(
        "/v1/tokens", json={"name": "more", "scopes": ["audit:read"]}, headers=headers
    )
    assert wider.status_code == 403
    assert (await http.get("/v1/tokens", headers=headers)).status_code == 403


async def test_tokens_are_listed_without_values_and_revoked_at_once(
    api: tuple[httpx.AsyncClient, dict[str, dict[str, str]]], db: Database
) -> None:
    http, auth = api
    minted = await _mint(http, auth["alice"], "apps:read")
    listed = (await http.get("/v1/tokens", headers=auth["alice"])).json()
    mine = next(t for t in listed if t["id"] == minted["id"])
    assert mine["scopes"] == ["apps:read"] and mine["name"] == "ci deploys"
    assert minted["Authorization"].split()[1] not in str(listed)
    async with db.connection() as conn:
        stored = await (await conn.execute("SELECT * FROM api_tokens")).fetchall()
    assert minted["Authorization"].split()[1] not in str(stored)  # only hashes at rest

    # Bob cannot revoke it (404, audited); Alice can.
    foreign = await http.delete(f"/v1/tokens/{minted['id']}", headers=auth["bob"])
    assert foreign.status_code == 404
    denied = await AuditLog(db).search(actor="bob", outcome="denied", limit=10)
    assert [r.resource for r in denied] == [f"token:{minted['id']}"]
    reader = {"Authorization": minted["Authorization"]}
    assert (await http.get("/v1/apps", headers=reader)).status_code == 200
    assert (
        await http.delete(f"/v1/tokens/{minted['id']}", headers=auth["alice"])
    ).status_code == 204
    assert (await http.get("/v1/apps", headers=reader)).status_code == 401


@pytest.mark.parametrize(
    "body",
    [
        {"name": "x", "scopes": ["apps:admin"]},
        {"name": "x", "scopes": []},
        {"name": "x", "scopes": ["apps:read"], "ttl_s": 91 * 24 * 3600},
        {"name": "x", "scopes": ["apps:read"], "ttl_s": 10},
        {"name": "x", "scopes": ["apps:read"], "admin": True},
        {"name": "<script>", "scopes": ["apps:read"]},
    ],
)
async def test_bad_token_requests_are_refused_with_a_reason(
    api: tuple[httpx.AsyncClient, dict[str, dict[str, str]]], body: dict[str, object]
) -> None:
    http, auth = api
    r = await http.post("/v1/tokens", json=body, headers=auth["alice"])
    assert r.status_code == 422 and r.json()["detail"]
    listed = (await http.get("/v1/tokens", headers=auth["alice"])).json()
    assert [t for t in listed if t["name"] is not None] == []  # only the fixture's token

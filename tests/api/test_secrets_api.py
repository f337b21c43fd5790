"""Secrets and audit routes over HTTP: owner checks, values only on the owner's reveal,
bad input refused with a reason and nothing changed, operators only on the audit log,
and a flood of foreign reads all refused and all audited."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from api.services import Services
from schemas.settings import Settings
from store.db import Database
from store.tokens import TokenRepository

VALUE = "pk_live_THE-SECRET-VALUE"


class Client:
    """An HTTP client with a token per user."""

    def __init__(self, http: httpx.AsyncClient, tokens: dict[str, str]) -> None:
        self.http = http
        self.tokens = tokens

    def auth(self, user: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[user]}"}

    async def put(self, user: str, app: str, name: str, value: object) -> httpx.Response:
        return await self.http.put(
            f"/v1/apps/{app}/secrets/{name}", json={"value": value}, headers=self.auth(user)
        )

    async def reveal(self, user: str, app: str, name: str) -> httpx.Response:
        return await self.http.post(
            f"/v1/apps/{app}/secrets/{name}/reveal", headers=self.auth(user)
        )


@pytest.fixture
async def api(db: Database, env: WorkflowEnvironment, tmp_path: Path) -> AsyncIterator[Client]:
    settings = Settings(data_dir=tmp_path / "data", operator_ids="ops")
    services = Services.build(settings, db, env.client)
    tokens = TokenRepository(db)
    issued = {}
    for user in ("alice", "bob", "ops"):
        await tokens.ensure_user(user, user.title())
        issued[user] = await tokens.issue(user)
    await services.apps.ensure("shop", "alice")
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(services)), base_url="http://testserver"
    ) as http:
        yield Client(http, issued)


async def test_owner_sets_lists_reveals_and_deletes(api: Client) -> None:
    r = await api.put("alice", "shop", "STRIPE_KEY", VALUE)
    assert r.status_code == 200, r.text
    assert r.json()["version"] == 1 and VALUE not in r.text

    listed = await api.http.get("/v1/apps/shop/secrets", headers=api.auth("alice"))
    assert listed.status_code == 200
    assert [(s["name"], s["version"]) for s in listed.json()] == [("STRIPE_KEY", 1)]
    assert VALUE not in listed.text

    revealed = await api.reveal("alice", "shop", "STRIPE_KEY")
    assert revealed.status_code == 200
    assert revealed.json() == {"name": "STRIPE_KEY", "version": 1, "value": VALUE}
    assert revealed.headers["cache-control"] == "no-store"

    gone = await api.http.delete("/v1/apps/shop/secrets/STRIPE_KEY", headers=api.auth("alice"))
    assert gone.status_code == 204
    again = await api.reveal("alice", "shop", "STRIPE_KEY")
    assert again.status_code == 404 and "STRIPE_KEY" in again.json()["detail"]


async def test_another_user_gets_404_for_everything(api: Client) -> None:
    await api.put("alice", "shop", "STRIPE_KEY", VALUE)
    answers = [
        await api.reveal("bob", "shop", "STRIPE_KEY"),
        await api.http.get("/v1/apps/shop/secrets", headers=api.auth("bob")),
        await api.put("bob", "shop", "STRIPE_KEY", "bob-was-here"),
        await api.http.delete("/v1/apps/shop/secrets/STRIPE_KEY", headers=api.auth("bob")),
    ]
    assert [a.status_code for a in answers] == [404, 404, 404, 404]
    assert all(VALUE not in a.text for a in answers)
    missing = await api.reveal("bob", "nope-app", "STRIPE_KEY")
    assert missing.status_code == 404
    assert (await api.reveal("alice", "shop", "STRIPE_KEY")).json()["value"] == VALUE


@pytest.mark.parametrize(
    ("name", "value", "reason"),
    [
        ("lower_case", "x", "name"),
        ("A" * 65, "x", "name"),
        ("OK", "x" * (64 * 1024 + 1), "at most 65536 bytes"),
        ("OK", 42, "value"),
        ("OK", "a\0b", "NUL"),
    ],
)
async def test_bad_input_is_a_4xx_with_a_reason_and_changes_nothing(
    api: Client, name: str, value: object, reason: str
) -> None:
    r = await api.put("alice", "shop", name, value)
    assert r.status_code == 422
    assert reason in r.json()["detail"]
    assert "Traceback" not in r.text
    listed = await api.http.get("/v1/apps/shop/secrets", headers=api.auth("alice"))
    assert listed.json() == []


async def test_a_flood_of_foreign_reveals_is_refused_and_every_one_audited(api: Client) -> None:
    await api.put("alice", "shop", "STRIPE_KEY", VALUE)
    answers = await asyncio.gather(*(api.reveal("bob", "shop", "STRIPE_KEY") for _ in range(40)))
    assert {a.status_code for a in answers} == {404}
    denied = await api.http.get(
        "/v1/audit",
        params={"actor": "bob", "outcome": "denied", "limit": 100},
        headers=api.auth("ops"),
    )
    assert denied.status_code == 200
    rows = denied.json()
    assert len(rows) == 40
    assert {(r["action"], r["resource"], r["client_ip"]) for r in rows} == {
        ("secret.reveal", "secret:shop/STRIPE_KEY", "127.0.0.1")
    }
    verified = await api.http.get("/v1/audit/verify", headers=api.auth("ops"))
    assert verified.json()["ok"] is True


async def test_the_audit_log_is_for_operators_only(api: Client) -> None:
    for user in ("alice", "bob"):
        assert (await api.http.get("/v1/audit", headers=api.auth(user))).status_code == 403
        assert (await api.http.get("/v1/audit/verify", headers=api.auth(user))).status_code == 403
    assert (await api.http.get("/v1/audit")).status_code == 401
    await api.put("alice", "shop", "STRIPE_KEY", VALUE)
    rows = (await api.http.get("/v1/audit", headers=api.auth("ops"))).json()
    # Reading the log is itself audited, before the read.
    assert [(r["action"], r["actor"]) for r in rows[:2]] == [
        ("audit.read", "ops"),
        ("secret.set", "alice"),
    ]
    assert VALUE not in str(rows)

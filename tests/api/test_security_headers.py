"""Security headers on every response, security.txt, and no CSP loosening by the gateway."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from api.gateway import create_gateway_app
from api.services import Services
from schemas.settings import Settings
from store.db import Database


@pytest.fixture
async def http(
    db: Database, env: WorkflowEnvironment, tmp_path: Path
) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(
        data_dir=tmp_path / "data",
        security_contact="mailto:psirt@example.invalid",
        security_policy_url="https://example.invalid/policy",
    )
    app = create_app(Services.build(settings, db, env.client))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="https://testserver"
    ) as client:
        yield client


@pytest.mark.parametrize("path", ["/healthz", "/v1/apps", "/openapi.json", "/nope"])
async def test_every_api_response_carries_the_headers(http: httpx.AsyncClient, path: str) -> None:
    r = await http.get(path)
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["referrer-policy"] == "no-referrer"
    assert r.headers["x-frame-options"] == "DENY"
    assert r.headers["content-security-policy"].startswith("default-src 'none'")
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
    assert r.headers["strict-transport-security"].startswith("max-age=31536000")


async def test_the_gateway_keeps_apps_working_but_unframeable(
    db: Database, env: WorkflowEnvironment, tmp_path: Path
) -> None:
    gateway = create_gateway_app(Services.build(Settings(data_dir=tmp_path / "d"), db, env.client))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=gateway), base_url="http://testserver"
    ) as apps:
        r = await apps.get("/apps/nothing-here/")
    assert r.status_code == 404
    policy = r.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in policy and "default-src" not in policy


async def test_the_api_origin_never_serves_an_app(http: httpx.AsyncClient) -> None:
    r = await http.get("/apps/some-app/page?x=1")
    assert r.status_code == 308
    assert r.headers["location"] == "http://127.0.0.2:8001/apps/some-app/page?x=1"


async def test_hsts_only_over_tls(db: Database, env: WorkflowEnvironment, tmp_path: Path) -> None:
    app = create_app(Services.build(Settings(data_dir=tmp_path / "d"), db, env.client))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as plain:
        r = await plain.get("/healthz")
    assert "strict-transport-security" not in r.headers


async def test_security_txt(http: httpx.AsyncClient) -> None:
    r = await http.get("/.well-known/security.txt")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    fields = dict(line.split(": ", 1) for line in r.text.strip().splitlines())
    assert fields["Contact"] == "mailto:psirt@example.invalid"
    assert fields["Policy"] == "https://example.invalid/policy"
    assert fields["Expires"].endswith("Z")

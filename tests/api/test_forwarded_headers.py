"""Forwarding headers are believed only from configured proxies (``MB_TRUSTED_PROXIES``).

Every server here is real uvicorn on loopback, configured by ``server_config`` exactly
as ``mb up`` does, because uvicorn (not our code) decides whom to believe: by default
it trusts ``X-Forwarded-For`` from 127.0.0.1, which made every local client a
"proxy" that could pick the address rate limits and the audit log see.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import oidc_provider_mock  # type: ignore[import-untyped]
import pytest
import uvicorn
from fastapi import FastAPI
from temporalio.api.common.v1 import Payload
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from api.codec_server import create_codec_server
from api.gateway import create_gateway_app
from api.services import Services
from api.tls import server_config
from cli.stack import EmbeddedServer
from schemas.settings import Settings
from store.audit import AuditLog
from store.db import Database
from store.tokens import TokenRepository
from temporal.codec import EncryptionCodec, key_id_for
from temporal.devserver import free_loopback_port
from tests.api.test_gateway import echo_app

FORGED = [f"6.6.6.{i}" for i in range(1, 200)]


@pytest.fixture(scope="module")
def provider_url() -> Iterator[str]:
    with oidc_provider_mock.run_server_in_thread(require_nonce=True) as server:
        yield f"http://localhost:{server.server_port}"


@asynccontextmanager
async def served(app: FastAPI, settings: Settings, host: str = "127.0.0.1") -> AsyncIterator[str]:
    """``app`` served by uvicorn as ``mb up`` serves it; yields its base URL."""
    port = free_loopback_port()
    config = server_config(app, settings, host=host, port=port, log_level="warning")
    server = EmbeddedServer(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        assert not task.done(), "the server did not start"
        await asyncio.sleep(0.02)
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        await task


def _settings(tmp_path: Path, provider_url: str, **extra: object) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        oidc_issuer=provider_url,
        oidc_client_id="mb-api",
        oidc_client_secret="client-secret",
        **extra,  # type: ignore[arg-type]
    )


async def _alice_and_bobs_app(db: Database) -> dict[str, str]:
    tokens = TokenRepository(db)
    for user in ("alice", "bob"):
        await tokens.ensure_user(user, user)
    async with db.connection() as conn:
        await conn.execute("INSERT INTO apps (app_id, owner_id) VALUES ('bobs-app', 'bob')")
    return {"Authorization": f"Bearer {await tokens.issue('alice')}"}


@pytest.mark.reliability(
    "Forged client addresses",
    done="Send 65 token guesses, 13 logins and an owner-check probe to the real API,"
    " each with another X-Forwarded-For",
)
async def test_a_rotating_x_forwarded_for_escapes_no_limit_and_is_never_audited(
    db: Database, env: WorkflowEnvironment, tmp_path: Path, provider_url: str
) -> None:
    """With no trusted proxy, the guesses get 60 answers then 429, the logins 10 then
    429, and every audit row names the real peer, never a forged address."""
    alice = await _alice_and_bobs_app(db)
    settings = _settings(tmp_path, provider_url)
    assert settings.trusted_proxies == []  # the default
    services = Services.build(settings, db, env.client)
    async with served(create_app(services), settings) as url, httpx.AsyncClient() as http:
        guesses = [
            await http.get(
                f"{url}/v1/apps",
                headers={"Authorization": f"Bearer mbt_guess{i}", "X-Forwarded-For": FORGED[i]},
            )
            for i in range(65)
        ]
        assert [g.status_code for g in guesses] == [401] * 60 + [429] * 5
        logins = [
            await http.get(
                f"{url}/v1/auth/login",
                headers={"X-Forwarded-For": FORGED[i], "X-Forwarded-Proto": "https"},
            )
            for i in range(13)
        ]
        assert [r.status_code for r in logins] == [303] * 10 + [429] * 3
        assert "Secure" not in logins[0].headers["set-cookie"]  # the scheme was not forged
        probe = await http.get(
            f"{url}/v1/apps/bobs-app", headers={**alice, "X-Forwarded-For": "6.6.6.6"}
        )
        assert probe.status_code == 404

    rows = await AuditLog(db).search(limit=1000)
    assert {r.action for r in rows} >= {"rate.limited", "access.denied"}
    assert {r.client_ip for r in rows} == {"127.0.0.1"}
    limited = sorted(r.resource for r in rows if r.action == "rate.limited")
    assert limited == ["ip:127.0.0.1", "login:127.0.0.1"]


async def test_a_configured_proxy_is_believed(
    db: Database, env: WorkflowEnvironment, tmp_path: Path, provider_url: str
) -> None:
    """The same probe through a configured proxy (here 127.0.0.0/8) is audited with the
    address the proxy forwarded, and garbage from it is never used as an address."""
    alice = await _alice_and_bobs_app(db)
    settings = _settings(tmp_path, provider_url, trusted_proxies="127.0.0.0/8")
    services = Services.build(settings, db, env.client)
    async with served(create_app(services), settings) as url, httpx.AsyncClient() as http:
        for forwarded in ("203.0.113.7", "not-an-address"):
            probe = await http.get(
                f"{url}/v1/apps/bobs-app", headers={**alice, "X-Forwarded-For": forwarded}
            )
            assert probe.status_code == 404
    rows = await AuditLog(db).search(action="access.denied", newest_first=False)
    assert [r.client_ip for r in rows] == ["203.0.113.7", None]


async def test_bad_trusted_proxies_are_refused_with_the_reason() -> None:
    with pytest.raises(ValueError, match="'\\*' is not an IP address or network"):
        Settings(trusted_proxies="10.0.0.0/8, *")


async def test_the_gateway_tells_apps_the_real_peer(db: Database, tmp_path: Path) -> None:
    """Apps get the peer uvicorn saw in X-Forwarded-For and the real scheme; forwarding
    headers a client wrote never reach them."""
    socket_path = str(tmp_path / "app.sock")
    app_server = EmbeddedServer(uvicorn.Config(echo_app, uds=socket_path, log_level="warning"))
    app_task = asyncio.create_task(app_server.serve())
    settings = Settings(data_dir=tmp_path / "data")
    services = Services.build(settings, db, temporal=None)  # type: ignore[arg-type]
    await services.releases.switch(
        app_id="echo-app",
        owner_id="alice",
        version=1,
        instance_id="echo-app-v1",
        socket_path=socket_path,
        host="local",
        reason="test",
        request_id="r1",
    )
    try:
        gateway = create_gateway_app(services)
        async with (
            served(gateway, settings, settings.apps_host) as url,
            httpx.AsyncClient() as http,
        ):
            r = await http.get(
                f"{url}/apps/echo-app/",
                headers={
                    "X-Forwarded-For": "6.6.6.6",
                    "X-Forwarded-Proto": "https",
                    "X-Forwarded-Host": "bank.example",
                    "Forwarded": "for=6.6.6.6;proto=https",
                    "X-Real-IP": "6.6.6.6",
                },
            )
        assert r.status_code == 201
        seen = r.json()["headers"]
        assert seen["x-forwarded-for"] in ("127.0.0.1", "127.0.0.2")
        assert seen["x-forwarded-proto"] == "http"
        assert "6.6.6.6" not in r.text and "bank.example" not in r.text
        assert not {"forwarded", "x-real-ip", "x-forwarded-host"} & set(seen)
    finally:
        app_server.should_exit = True
        await app_task


async def test_the_codec_server_audits_the_real_peer(db: Database, tmp_path: Path) -> None:
    key = bytes(range(32))
    codec = EncryptionCodec({key_id_for(key): key}, key_id_for(key), "default")
    tokens = TokenRepository(db)
    await tokens.ensure_user("ops", "ops")
    token = await tokens.issue("ops")
    app = create_codec_server(
        {"default": codec},
        tokens,
        AuditLog(db),
        operators=frozenset({"ops"}),
        ui_origins=frozenset({"http://127.0.0.1:8233"}),
    )
    encrypted = (await codec.encode([Payload(metadata={"encoding": b"json/plain"}, data=b"1")]))[0]
    body = {
        "payloads": [
            {
                "metadata": {
                    k: base64.b64encode(v).decode() for k, v in encrypted.metadata.items()
                },
                "data": base64.b64encode(encrypted.data).decode(),
            }
        ]
    }
    settings = Settings(data_dir=tmp_path / "data")
    async with served(app, settings) as url, httpx.AsyncClient() as http:
        r = await http.post(
            f"{url}/decode",
            json=body,
            headers={
                "Authorization": f"Bearer {token}",
                "X-Namespace": "default",
                "X-Forwarded-For": "6.6.6.6",
            },
        )
    assert r.status_code == 200, r.text
    (row,) = await AuditLog(db).search(action="payload.decode")
    assert row.client_ip == "127.0.0.1"

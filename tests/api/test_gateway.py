"""The gateway proxies /apps/<id>/... to the live release's unix socket, and nothing else."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from starlette.types import Receive, Scope, Send

from api.gateway import create_gateway_app
from api.services import Services
from cli.stack import EmbeddedServer
from schemas.settings import Settings
from store.db import Database


async def echo_app(scope: Scope, receive: Receive, send: Send) -> None:
    """A stand-in deployed app: echoes what reached it."""
    if scope["type"] != "http":
        return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    payload = json.dumps(
        {
            "method": scope["method"],
            "path": scope["path"],
            "query": scope["query_string"].decode(),
            "headers": {k.decode(): v.decode() for k, v in scope["headers"]},
            "body": body.decode(),
        }
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 201,
            "headers": [(b"content-type", b"application/json"), (b"x-app", b"echo")],
        }
    )
    await send({"type": "http.response.body", "body": payload})


@pytest.fixture
async def socket_app(tmp_path: Path) -> AsyncIterator[str]:
    path = str(tmp_path / "app.sock")
    server = EmbeddedServer(uvicorn.Config(echo_app, uds=path, log_level="warning"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
    yield path
    server.should_exit = True
    await task


@pytest.fixture
async def http(db: Database, tmp_path: Path) -> AsyncIterator[tuple[httpx.AsyncClient, Services]]:
    # The gateway needs no Temporal: a client is required by Services but never used here.
    services = Services.build(Settings(data_dir=tmp_path / "data"), db, temporal=None)  # type: ignore[arg-type]
    app = create_gateway_app(services)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as client:
        yield client, services


async def _route(services: Services, socket_path: str, version: int = 1) -> None:
    await services.releases.switch(
        app_id="echo-app",
        owner_id="alice",
        version=version,
        instance_id=f"echo-app-v{version}",
        socket_path=socket_path,
        host="local",
        reason="test",
        request_id=f"r{version}",
    )


async def test_requests_reach_the_live_instance(
    http: tuple[httpx.AsyncClient, Services], socket_app: str
) -> None:
    client, services = http
    await _route(services, socket_app)
    r = await client.post(
        "/apps/echo-app/api/items?x=1",
        content=b'{"a": 1}',
        headers={
            "Authorization": "Bearer mbt_secret_platform_token",
            "Content-Type": "application/json",
            "Cookie": "mb_session=victim; app_pref=dark; __Host-mb_session=v2; mb_login=x",
        },
    )
    assert r.status_code == 201
    assert r.headers["x-app"] == "echo"
    seen = r.json()
    assert seen["method"] == "POST" and seen["path"] == "/api/items" and seen["query"] == "x=1"
    assert seen["body"] == '{"a": 1}'
    assert "authorization" not in seen["headers"]  # our credentials never reach app code
    assert "mbt_secret_platform_token" not in json.dumps(seen)
    assert seen["headers"]["x-forwarded-prefix"] == "/apps/echo-app"
    assert seen["headers"]["cookie"] == "app_pref=dark"
    got = (await client.get("/apps/echo-app/")).json()
    assert got["body"] == "" and "transfer-encoding" not in got["headers"]  # no body, none sent


async def test_no_route_no_socket_and_redirect(
    http: tuple[httpx.AsyncClient, Services], tmp_path: Path
) -> None:
    client, services = http
    r = await client.get("/apps/echo-app/")
    assert r.status_code == 404 and "no live release" in r.json()["detail"]
    await _route(services, str(tmp_path / "gone.sock"))
    r = await client.get("/apps/echo-app/")
    assert r.status_code == 502 and "not reachable" in r.json()["detail"]
    r = await client.get("/apps/echo-app")
    assert r.status_code == 308 and r.headers["location"] == "/apps/echo-app/"
    r = await client.get("/apps/Not_An_App/")
    assert r.status_code == 422


async def test_switch_takes_effect_on_the_next_request(
    http: tuple[httpx.AsyncClient, Services], socket_app: str, tmp_path: Path
) -> None:
    client, services = http
    await _route(services, socket_app, version=1)
    assert (await client.get("/apps/echo-app/x")).status_code == 201
    await _route(services, str(tmp_path / "v2-not-started.sock"), version=2)
    assert (await client.get("/apps/echo-app/x")).status_code == 502


async def cookie_setter(scope: Scope, receive: Receive, send: Send) -> None:
    """A deployed app trying to plant our session cookie next to its own."""
    if scope["type"] != "http":
        return
    await receive()
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"set-cookie", b"theme=dark; Path=/apps/echo-app/"),
                (b"set-cookie", b"mb_session=attackers-session; Path=/"),
                (b"set-cookie", b"__Host-mb_session=x; Path=/; Secure"),
                # nameless: a browser that stores it sends "mb_session=x" back
                (b"set-cookie", b"=mb_session=x; Path=/"),
                (b"set-cookie", b"=  mb_session=x; Path=/"),
                (b"set-cookie", b"=__Host-mb_session=x; Path=/; Secure"),
                (b"set-cookie", b"mb_session; Path=/"),
                (b"set-cookie", b"MB_Session=x; Path=/"),
                (b"set-cookie", b"__Secure-mb_login=x; Path=/; Secure"),
                (b"set-cookie", b"mb_login =x; Path=/v1/auth"),
                (b"set-cookie", b"x=mb_session=y; Path=/"),
                (b"set-cookie", b"cart=3; Path=/apps/echo-app/"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": b"ok"})


async def test_apps_cannot_set_cookies_that_pass_for_ours_but_keep_their_own(
    http: tuple[httpx.AsyncClient, Services], tmp_path: Path
) -> None:
    client, services = http
    path = str(tmp_path / "setter.sock")
    server = EmbeddedServer(uvicorn.Config(cookie_setter, uds=path, log_level="warning"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
    try:
        await _route(services, path)
        r = await client.get("/apps/echo-app/")
        assert r.status_code == 200
        assert r.headers.get_list("set-cookie") == [
            "theme=dark; Path=/apps/echo-app/",
            "cart=3; Path=/apps/echo-app/",
        ]
    finally:
        server.should_exit = True
        await task


async def framing_lifter(scope: Scope, receive: Receive, send: Send) -> None:
    """A deployed app trying to be framed and sniffed."""
    if scope["type"] != "http":
        return
    await receive()
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"content-type", b"text/html"),
                (b"content-security-policy", b"frame-ancestors *; script-src 'self'"),
                (b"x-frame-options", b"ALLOWALL"),
                (b"x-content-type-options", b"sniff-away"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": b"<p>frame me</p>"})


async def test_apps_cannot_weaken_the_framing_protection(
    http: tuple[httpx.AsyncClient, Services], tmp_path: Path
) -> None:
    client, services = http
    path = str(tmp_path / "framing.sock")
    server = EmbeddedServer(uvicorn.Config(framing_lifter, uds=path, log_level="warning"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
    try:
        await _route(services, path)
        r = await client.get("/apps/echo-app/")
        assert r.status_code == 200
        policies = r.headers.get_list("content-security-policy")
        assert "frame-ancestors *; script-src 'self'" in policies  # the app's own, kept
        assert any("frame-ancestors 'none'" in p for p in policies)  # and ours, enforced too
        assert r.headers.get_list("x-frame-options") == ["DENY"]
        assert r.headers.get_list("x-content-type-options") == ["nosniff"]
    finally:
        server.should_exit = True
        await task

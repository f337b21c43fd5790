"""In a real browser, a deployed app cannot log its visitor into another session.

Headless Chromium (Debian's ``chromium``, driven by Playwright; nothing is
downloaded) logs a visitor in through the development OIDC provider and the
real API, then opens a hostile app behind the real gateway. The app's page
plants every ``mb_session`` it can, by ``Set-Cookie`` and by script, holding a
live session of the attacker's. Then the browser opens the API again.

Browsers separate cookies by host, not by port. With apps on their own
loopback address (the default ``MB_APPS_HOST``, 127.0.0.2: another site) none
of the planted cookies reaches the API. If an operator serves apps from the
API's host anyway, the script's cookies do reach the API, and the API refuses
the ambiguous request instead of taking the attacker's session.

The browser sends nothing beyond loopback: the provider's login page links a
stylesheet on a public CDN, which ``mb up``'s Content-Security-Policy blocks.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn
from playwright.async_api import Browser, Page
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Receive, Scope, Send
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from api.cookies import cookie_pairs
from api.gateway import create_gateway_app
from api.services import Services
from api.tls import server_config
from cli.dev_identity import dev_identity_provider
from schemas.settings import Settings
from store.db import Database
from store.tokens import TokenRepository
from temporal.devserver import free_loopback_port
from tests.api.login_flow import dev_login_in_browser
from tests.browser import loopback_only, screenshot_on_failure
from tests.servers import serve

VICTIM = "visitor@example.com"


def hostile_page(planted: str) -> bytes:
    """The app's page: every cookie trick a script can play, then a sign it is done."""
    tricks = [
        f"mb_session={planted}; path=/",
        f"mb_session={planted}; path=/v1",
        f"mb_session={planted}; path=/v1/me",
        f"=mb_session={planted}; path=/",
        f"mb_session={planted}; path=/; domain=127.0.0.1",
        f"mb_session={planted}; path=/; SameSite=None",
        f"__Host-mb_session={planted}; path=/; secure",
        "mb_login=planted; path=/v1/auth",
    ]
    script = "".join(f"document.cookie = {json.dumps(t)};\n" for t in tricks)
    return (
        "<!doctype html><title>loading</title><p>free pizza</p>\n"
        f"<script>\n{script}document.title = 'planted';\n</script>\n"
    ).encode()


def hostile_app(planted: str) -> ASGIApp:
    """A deployed app that plants the attacker's session by header and by script."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        await receive()
        headers = [(b"content-type", b"text/html; charset=utf-8")]
        for trick in (
            f"mb_session={planted}; Path=/",
            f"=mb_session={planted}; Path=/",
            f"mb_session={planted}; Path=/; Domain=127.0.0.1",
            f"MB_SESSION={planted}; Path=/",
            f"x=mb_session={planted}; Path=/",
            "mb_login=planted; Path=/v1/auth",
        ):
            headers.append((b"set-cookie", trick.encode()))
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": hostile_page(planted)})

    return app


class CookieRecorder:
    """Wraps the API: keeps the cookies each request to ``/v1/me`` carried."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.seen: list[list[tuple[str, str]]] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == "/v1/me":
            self.seen.append(cookie_pairs(HTTPConnection(scope)))
        await self.app(scope, receive, send)


@dataclass
class Site:
    api_url: str
    apps_url: str
    recorder: CookieRecorder
    planted: str  # a live session of the attacker's


@asynccontextmanager
async def site(
    db: Database, env: WorkflowEnvironment, tmp_path: Path, apps_host: str
) -> AsyncIterator[Site]:
    """The API, the dev OIDC provider and the gateway (apps on ``apps_host``), served by
    uvicorn on loopback as ``mb up`` serves them, with the hostile app deployed."""
    settings, identity = dev_identity_provider(
        Settings(
            data_dir=tmp_path / "data",
            api_port=free_loopback_port(),
            apps_host=apps_host,
            apps_port=free_loopback_port(),
            oidc_dev_port=free_loopback_port(),
        )
    )
    assert identity is not None
    services = Services.build(settings, db, env.client)
    tokens = TokenRepository(db)
    await tokens.ensure_user("mallory", "Mallory")
    planted = await services.sessions.create("mallory", client_ip=None, user_agent=None)
    socket_path = str(tmp_path / "hostile.sock")
    await services.releases.switch(
        app_id="free-pizza",
        owner_id="mallory",
        version=1,
        instance_id="free-pizza-v1",
        socket_path=socket_path,
        host="local",
        reason="test",
        request_id="r1",
    )
    recorder = CookieRecorder(create_app(services))
    async with AsyncExitStack() as stack:
        app = hostile_app(planted.session_id)
        await serve(stack, uvicorn.Config(app, uds=socket_path, log_level="warning"))
        await serve(stack, identity.server_config())
        await serve(
            stack, server_config(recorder, settings, port=settings.api_port, log_level="warning")
        )
        await serve(
            stack,
            server_config(
                create_gateway_app(services),
                settings,
                host=settings.apps_host,
                port=settings.apps_port,
                log_level="warning",
            ),
        )
        yield Site(settings.api_base_url, settings.apps_base_url, recorder, planted.session_id)


async def _log_in(page: Page, site: Site) -> str:
    """The visitor logs in through the provider's page; returns their session cookie."""
    await page.goto(f"{site.api_url}/v1/auth/login?return_to=/v1/me")
    async with page.expect_navigation(url=f"{site.api_url}/v1/me"):
        await dev_login_in_browser(page, VICTIM)
    me = json.loads(await page.inner_text("body"))
    assert me["email"] == VICTIM and me["via"] == "session"
    (cookie,) = [
        c for c in await page.context.cookies(site.api_url) if c.get("name") == "mb_session"
    ]
    return str(cookie.get("value"))


async def _visit_the_app_then_the_api(page: Page, site: Site) -> tuple[int, str]:
    await page.goto(f"{site.apps_url}/apps/free-pizza/")
    await page.wait_for_function("document.title === 'planted'")
    answer = await page.goto(f"{site.api_url}/v1/me")
    assert answer is not None
    return answer.status, await page.inner_text("body")


@pytest.mark.reliability(
    "Cookies planted by an app",
    done="In headless Chromium, log in, open a hostile app that sets the attacker's"
    " mb_session by header and by script, then open the API",
)
async def test_an_app_cannot_log_its_visitor_into_another_session(
    db: Database, env: WorkflowEnvironment, tmp_path: Path, chromium: Browser
) -> None:
    """With apps on their own loopback address (the default), the API still sees the
    visitor's own session and nothing else: no planted cookie reaches it."""
    assert Settings().apps_host == "127.0.0.2"
    async with site(db, env, tmp_path, Settings().apps_host) as s:
        page = await chromium.new_page()
        elsewhere = await loopback_only(page)
        async with screenshot_on_failure(page, tmp_path):
            mine = await _log_in(page, s)
            status, body = await _visit_the_app_then_the_api(page, s)
            assert status == 200, body
            assert json.loads(body)["email"] == VICTIM
            assert s.recorder.seen[-1] == [("mb_session", mine)]
            assert s.planted not in json.dumps(await page.context.cookies(s.api_url))
        assert elsewhere == []  # the provider's login page loads nothing from outside


async def test_on_a_shared_host_the_api_refuses_the_planted_duplicate(
    db: Database, env: WorkflowEnvironment, tmp_path: Path, chromium: Browser
) -> None:
    """Apps served from the API's host (another port, the same site): the script's
    cookies do reach the API, which then refuses the request (400) rather than take
    the attacker's session; the gateway let none of the header tricks through."""
    async with site(db, env, tmp_path, "127.0.0.1") as s:
        page = await chromium.new_page()
        elsewhere = await loopback_only(page)
        async with screenshot_on_failure(page, tmp_path):
            mine = await _log_in(page, s)
            status, body = await _visit_the_app_then_the_api(page, s)
            sent = s.recorder.seen[-1]
            assert ("mb_session", s.planted) in sent and ("mb_session", mine) in sent
            assert status == 400, body
            assert "mb_session cookies" in json.loads(body)["detail"]
            jar = await page.context.cookies(s.api_url)
            assert not any(c.get("name") in ("MB_SESSION", "x", "") for c in jar)
        assert elsewhere == []

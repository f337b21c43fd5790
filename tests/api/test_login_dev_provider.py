"""Login as ``mb up`` wires it: our development OIDC provider (which enforces PKCE and
the nonce) and the API, with verification mail going out over a real SMTP server."""

from __future__ import annotations

import asyncio
import email
import email.policy
import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from api.services import Services
from cli.stack import dev_identity_provider
from schemas.settings import Settings
from store.db import Database
from temporal.devserver import free_loopback_port
from tests.api.login_flow import Browser, LoginForm
from tests.workflows.pipeline_fakes import FakePipeline


class Inbox:
    """An aiosmtpd handler keeping every message it accepts."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], str]] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.content
        text = content.decode() if isinstance(content, bytes) else str(content)
        self.messages.append((list(envelope.rcpt_tos), text))
        return "250 OK"


@dataclass
class Stack:
    services: Services
    browser: Browser
    inbox: Inbox


@pytest.fixture
async def stack(
    db: Database, env: WorkflowEnvironment, workers: FakePipeline, tmp_path: Path
) -> AsyncIterator[Stack]:
    inbox = Inbox()
    smtp_port = free_loopback_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    settings, provider = dev_identity_provider(
        Settings(
            data_dir=tmp_path / "data",
            rate_limit_per_minute=100_000,
            oidc_dev_port=free_loopback_port(),
            smtp_host="127.0.0.1",
            smtp_port=smtp_port,
            smtp_starttls=False,  # loopback relay without TLS, no credentials
        )
    )
    assert provider is not None and settings.oidc_issuer is not None
    server = uvicorn.Server(
        uvicorn.Config(provider, host="127.0.0.1", port=settings.oidc_dev_port, log_level="warning")
    )
    serving = asyncio.create_task(server.serve())
    deadline = time.monotonic() + 10
    while not server.started:
        assert not serving.done() and time.monotonic() < deadline
        await asyncio.sleep(0.02)
    services = Services.build(settings, db, env.client)
    api = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(services)), base_url="http://testserver"
    )
    try:
        yield Stack(services, Browser(api=api, provider=httpx.AsyncClient()), inbox)
    finally:
        await api.aclose()
        server.should_exit = True
        await serving
        controller.stop()


async def authorize(browser: Browser, authorize_url: str, email: str) -> str:
    """Fill in the dev provider's login page; returns the callback URL it redirects to."""
    page = await browser.provider.get(authorize_url)
    assert page.status_code == 200, page.text
    form = LoginForm(page.text)
    assert form.action is not None
    answer = await browser.provider.post(form.action, data={**form.fields, "email": email})
    assert answer.status_code == 303, answer.text
    return answer.headers["location"]


async def test_a_new_user_logs_in_verifies_by_mail_and_deploys(stack: Stack) -> None:
    browser = stack.browser
    started = await browser.start_login()
    callback = await authorize(browser, started.headers["location"], "Nina@Example.com")
    answer = await browser.callback(callback)
    assert answer.status_code == 303, answer.text
    me = (await browser.api.get("/v1/me")).json()
    assert me["email"] == "Nina@Example.com" and not me["email_verified"]

    (recipients, raw), *_ = stack.inbox.messages
    assert recipients == ["Nina@Example.com"]
    message = email.message_from_string(raw, policy=email.policy.default)
    assert message["Subject"] == "Confirm your email address for MicroBuilder"
    body = message.get_body(("plain",))
    assert body is not None
    link = re.search(r"/v1/auth/verify-email\?token=[\w.-]+", body.get_content())
    assert link, raw
    assert (await browser.api.get(link.group(0))).status_code == 200
    deployed = await browser.api.post(
        "/v1/apps/nina-app/deployments",
        json={"prompt": "a todo list"},
        headers={"X-CSRF-Token": me["csrf_token"]},
    )
    assert deployed.status_code == 202, deployed.text

    # The same person logging in again is the same user (issuer + stable subject).
    again = Browser(api=browser.api, provider=httpx.AsyncClient())
    started = await again.start_login()
    await again.callback(await authorize(again, started.headers["location"], "nina@example.com"))
    assert (await again.api.get("/v1/me")).json()["user_id"] == me["user_id"]


async def _tamper(db: Database, column: str) -> None:
    async with db.connection() as conn:
        await conn.execute(f"UPDATE login_attempts SET {column} = 'tampered' || {column}")


async def test_the_provider_refuses_a_code_without_the_matching_pkce_verifier(
    stack: Stack, db: Database
) -> None:
    browser = stack.browser
    started = await browser.start_login()
    callback = await authorize(browser, started.headers["location"], "oscar@example.com")
    await _tamper(db, "code_verifier")
    refused = await browser.callback(callback)
    assert refused.status_code == 400 and "invalid_grant" in refused.json()["detail"]
    assert "mb_session" not in browser.api.cookies


async def test_an_id_token_for_another_nonce_is_refused(stack: Stack, db: Database) -> None:
    browser = stack.browser
    started = await browser.start_login()
    callback = await authorize(browser, started.headers["location"], "pia@example.com")
    await _tamper(db, "nonce")
    refused = await browser.callback(callback)
    assert refused.status_code == 400 and "nonce" in refused.json()["detail"]
    assert "mb_session" not in browser.api.cookies

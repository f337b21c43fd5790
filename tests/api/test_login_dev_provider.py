"""Login as ``mb up`` wires it: the development provider (oidc-provider-mock through
``cli.dev_identity``) and the API, with verification mail going out over a real SMTP
server. The provider does not check PKCE, so a test watches our client send it."""

from __future__ import annotations

import asyncio
import base64
import email
import email.policy
import hashlib
import io
import json
import re
import time
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

import httpx
import pytest
import uvicorn
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from api.services import Services
from cli.dev_identity import dev_identity_provider
from schemas.settings import Settings
from store.db import Database
from temporal.devserver import free_loopback_port
from tests.api.login_flow import Browser, query_of
from tests.workflows.pipeline_fakes import FakePipeline

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment


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
class Recorder:
    """Wraps the provider's WSGI app: keeps what our client sends it (each authorization
    request's query, each token request's form) and the tokens it answers."""

    app: WSGIApplication
    authorizations: list[dict[str, str]] = field(default_factory=list)
    token_requests: list[dict[str, str]] = field(default_factory=list)
    token_answers: list[dict[str, Any]] = field(default_factory=list)

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        path = environ["PATH_INFO"]
        if path == "/oauth2/authorize" and environ["REQUEST_METHOD"] == "GET":
            self.authorizations.append(dict(parse_qsl(environ["QUERY_STRING"])))
        if path != "/oauth2/token":
            return self.app(environ, start_response)
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        environ["wsgi.input"] = io.BytesIO(body)
        self.token_requests.append(dict(parse_qsl(body.decode())))
        answer = b"".join(self.app(environ, start_response))
        self.token_answers.append(json.loads(answer))
        return [answer]


@dataclass
class Stack:
    services: Services
    browser: Browser
    inbox: Inbox
    provider: Recorder


@pytest.fixture
async def stack(
    db: Database, env: WorkflowEnvironment, workers: FakePipeline, tmp_path: Path
) -> AsyncIterator[Stack]:
    inbox = Inbox()
    smtp_port = free_loopback_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    settings, identity = dev_identity_provider(
        Settings(
            data_dir=tmp_path / "data",
            rate_limit_per_minute=100_000,
            oidc_dev_port=free_loopback_port(),
            smtp_host="127.0.0.1",
            smtp_port=smtp_port,
            smtp_starttls=False,  # loopback relay without TLS, no credentials
        )
    )
    assert identity is not None and settings.oidc_issuer is not None
    recorder = Recorder(identity.app)
    server = uvicorn.Server(replace(identity, app=recorder).server_config())
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
        yield Stack(services, Browser(api=api, provider=httpx.AsyncClient()), inbox, recorder)
    finally:
        await api.aclose()
        server.should_exit = True
        await serving
        controller.stop()


async def test_a_new_user_logs_in_verifies_by_mail_and_deploys(stack: Stack) -> None:
    browser = stack.browser
    answer = await browser.login("Nina@Example.com")
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

    # The same address logging in again is the same user (issuer + subject).
    again = Browser(api=browser.api, provider=httpx.AsyncClient())
    assert (await again.login("Nina@Example.com")).status_code == 303
    assert (await again.api.get("/v1/me")).json()["user_id"] == me["user_id"]


async def test_text_that_is_no_address_logs_in_unverified_and_gets_no_mail(
    stack: Stack,
) -> None:
    """The provider takes any text as the subject and the email; our mail refuses it."""
    assert (await stack.browser.login("not-an-address")).status_code == 303
    me = (await stack.browser.api.get("/v1/me")).json()
    assert me["email"] == "not-an-address" and me["email_verified"] is False
    assert stack.inbox.messages == []


def _b64url_sha256(text: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()


def _claims(id_token: str) -> dict[str, Any]:
    payload = id_token.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert isinstance(claims, dict)
    return claims


async def test_our_client_sends_pkce_s256_and_round_trips_state_and_nonce(stack: Stack) -> None:
    """The provider ignores PKCE, so this is all that proves we send it right: the
    challenge of the authorization request is BASE64URL(SHA256(verifier)) of the token
    request, by S256, and the state and nonce come back unchanged."""
    browser = stack.browser
    started = await browser.start_login()
    callback = await browser.authorize(started.headers["location"], "rita@example.com")
    assert (await browser.callback(callback)).status_code == 303
    (authorization,) = stack.provider.authorizations
    (redeemed,) = stack.provider.token_requests
    (answer,) = stack.provider.token_answers
    assert authorization.get("code_challenge_method") == "S256", authorization
    verifier = redeemed.get("code_verifier", "")
    assert 43 <= len(verifier) <= 128
    assert authorization["code_challenge"] == _b64url_sha256(verifier)
    assert authorization["response_type"] == "code" and "openid" in authorization["scope"]
    assert query_of(callback)["state"] == authorization["state"]
    assert redeemed["code"] == query_of(callback)["code"]
    assert redeemed["redirect_uri"] == authorization["redirect_uri"]
    claims = _claims(answer["id_token"])
    assert claims["nonce"] == authorization["nonce"] and authorization["nonce"]
    assert len({authorization["nonce"], authorization["state"], verifier}) == 3
    assert claims["sub"] == claims["email"] == "rita@example.com"
    assert "email_verified" not in claims  # our verification mail decides


async def _tamper(db: Database, column: str) -> None:
    async with db.connection() as conn:
        await conn.execute(f"UPDATE login_attempts SET {column} = 'tampered' || {column}")


async def test_an_id_token_for_another_nonce_is_refused(stack: Stack, db: Database) -> None:
    browser = stack.browser
    started = await browser.start_login()
    callback = await browser.authorize(started.headers["location"], "pia@example.com")
    await _tamper(db, "nonce")
    refused = await browser.callback(callback)
    assert refused.status_code == 400 and "nonce" in refused.json()["detail"]
    assert "mb_session" not in browser.api.cookies

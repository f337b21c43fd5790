"""``mb up``'s development login (``cli.dev_identity``), served as ``mb up`` serves it:
no debugger, our client registered for its one redirect URI, the nonce required, and
kept out of the production API."""

from __future__ import annotations

import ast
import asyncio
import base64
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from cli.dev_identity import create_provider, dev_identity_provider
from cli.stack import EmbeddedServer
from schemas.settings import Settings
from temporal.devserver import free_loopback_port
from tests.api.login_flow import dev_login, query_of

ROOT = Path(__file__).parents[2]


@dataclass
class Provider:
    settings: Settings
    http: httpx.AsyncClient

    @property
    def callback(self) -> str:
        return f"{self.settings.api_base_url}/v1/auth/callback"

    def authorization(self, **changes: str) -> dict[str, str]:
        """An authorization request of our API's client, with ``changes``."""
        return {
            "client_id": self.settings.oidc_client_id,
            "redirect_uri": self.callback,
            "response_type": "code",
            "scope": "openid email",
            "state": "the-state",
            "nonce": "the-nonce",
            **changes,
        }

    async def code(self, subject: str) -> str:
        """Log ``subject`` in; the code the provider sends to our callback."""
        page = await self.http.get("/oauth2/authorize", params=self.authorization())
        assert page.status_code == 200, page.text
        action, form = dev_login(str(page.url), page.text, subject)
        answer = await self.http.post(action, data=form)
        assert answer.headers["location"].startswith(f"{self.callback}?"), answer.text
        return query_of(answer.headers["location"])["code"]

    async def redeem(
        self, code: str, *, secret: str | None = None, **changes: str
    ) -> httpx.Response:
        client_secret = self.settings.oidc_client_secret
        assert client_secret is not None
        basic = f"{self.settings.oidc_client_id}:{secret or client_secret.get_secret_value()}"
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": self.callback}
        return await self.http.post(
            "/oauth2/token",
            data={**form, "code_verifier": "v" * 43, **changes},
            headers={"Authorization": "Basic " + base64.b64encode(basic.encode()).decode()},
        )


@pytest.fixture
async def provider(tmp_path: Path) -> AsyncIterator[Provider]:
    settings, identity = dev_identity_provider(
        Settings(
            data_dir=tmp_path / "data",
            api_port=free_loopback_port(),
            oidc_dev_port=free_loopback_port(),
        )
    )
    assert identity is not None and settings.oidc_issuer is not None
    server = EmbeddedServer(identity.server_config())
    serving = asyncio.create_task(server.serve())
    deadline = time.monotonic() + 10
    while not server.started:
        assert not serving.done() and time.monotonic() < deadline
        await asyncio.sleep(0.02)
    try:
        async with httpx.AsyncClient(base_url=settings.oidc_issuer) as http:
            yield Provider(settings, http)
    finally:
        server.should_exit = True
        await serving


async def test_the_werkzeug_debugger_is_off(provider: Provider) -> None:
    """The package turns the interactive debugger on; served by ``mb up`` it is off:
    its resources are not served and an error shows no traceback (nor a console)."""
    resource = await provider.http.get(
        "/", params={"__debugger__": "yes", "cmd": "resource", "f": "debugger.js"}
    )
    assert "javascript" not in resource.headers["content-type"]
    assert "__debugger__" not in resource.text and "CONSOLE_MODE" not in resource.text
    # The package's demo relying party fails on a page reached without its session.
    error = await provider.http.get("/oidc/success")
    assert error.status_code == 500
    for sign in ("Traceback", "__debugger__", "Werkzeug Debugger", "KeyError", "SECRET"):
        assert sign not in error.text, error.text
    # Out of debug mode Flask answers errors itself: a deny sent without the query the
    # package reads its redirect URI from is a plain 400, not an exception let through.
    deny = await provider.http.post(
        "/oauth2/authorize", data={**provider.authorization(), "action": "deny"}
    )
    assert deny.status_code == 400 and "KeyError" not in deny.text, deny.text


async def test_the_api_is_the_client_registered_for_its_callback_alone(
    provider: Provider,
) -> None:
    settings = provider.settings
    assert settings.oidc_issuer == f"http://127.0.0.1:{settings.oidc_dev_port}"
    discovery = (await provider.http.get("/.well-known/openid-configuration")).json()
    assert discovery["issuer"] == settings.oidc_issuer
    assert settings.oidc_client_id != Settings().oidc_client_id  # issued at registration

    elsewhere = f"{settings.api_base_url}/v1/auth/elsewhere"
    for refused in (
        provider.authorization(redirect_uri=elsewhere),
        provider.authorization(client_id="mb-api"),
    ):
        page = await provider.http.get("/oauth2/authorize", params=refused)
        assert page.status_code == 400 and "location" not in page.headers, page.text

    code = await provider.code("ada@example.com")
    moved = await provider.redeem(code, redirect_uri=elsewhere)
    assert moved.status_code == 400 and moved.json()["error"] == "invalid_grant"
    wrong = await provider.redeem(code, secret="not-the-secret")
    assert wrong.status_code in (400, 401) and wrong.json()["error"] == "invalid_client"
    redeemed = await provider.redeem(code)
    assert redeemed.status_code == 200 and redeemed.json()["id_token"]
    assert "refresh_token" not in redeemed.json()  # our API never uses one


async def test_an_authorization_request_without_a_nonce_is_refused(provider: Provider) -> None:
    request = provider.authorization()
    del request["nonce"]
    answer = await provider.http.get("/oauth2/authorize", params=request)
    refused = query_of(answer.headers["location"])
    assert refused["error"] == "invalid_request" and "nonce" in refused["error_description"]
    assert "code" not in refused


async def test_a_configured_provider_starts_no_development_one(tmp_path: Path) -> None:
    configured = Settings(data_dir=tmp_path / "data", oidc_issuer="https://id.example")
    assert dev_identity_provider(configured) == (configured, None)


@pytest.mark.parametrize(
    ("redirect_uri", "message"),
    [
        # the provider would register http://127.0.0.1/v1/auth/callback and never send
        # a code to the URI the API asks for
        ("http://127.0.0.1:80/v1/auth/callback", "set MB_PUBLIC_URL to http://127.0.0.1"),
        ("127.0.0.1:8000/v1/auth/callback", "refused our redirect URI"),
    ],
)
def test_a_redirect_uri_the_provider_would_not_match_stops_mb_up(
    redirect_uri: str, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        create_provider(redirect_uri)


def test_the_production_api_never_imports_the_development_login() -> None:
    """The fence: ``api/`` knows a provider only by its issuer URL, client id and secret."""
    found = []
    for path in sorted((ROOT / "api").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            found += [
                f"{path.relative_to(ROOT)}: {name}"
                for name in names
                if name.split(".")[0] in ("cli", "oidc_provider_mock", "flask")
            ]
    assert found == []

"""The development OpenID provider, driven over real HTTP by authlib's OAuth client:
the code flow with PKCE works and yields verifiable ID tokens with a stable ``sub``;
everything a strict provider must refuse is refused; key files stay private."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import secrets
import stat
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
import uvicorn
from authlib.integrations.base_client import OAuthError
from authlib.integrations.httpx_client import AsyncOAuth2Client
from joserfc import jwt
from joserfc.jwk import KeySet
from joserfc.jwt import JWTClaimsRegistry

from api.dev_oidc_provider import (
    DevClient,
    DevSigningKey,
    create_dev_oidc_provider,
    load_or_create_client_secret,
)
from temporal.devserver import free_loopback_port
from tests.api.login_flow import LoginForm


class Clock:
    """The provider's injected clock: tests move time instead of sleeping."""

    def __init__(self) -> None:
        self.now = float(int(time.time()))

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Provider:
    issuer: str
    clock: Clock
    a: DevClient
    b: DevClient
    http: httpx.AsyncClient

    @property
    def authorize_url(self) -> str:
        return f"{self.issuer}/authorize"

    @property
    def token_url(self) -> str:
        return f"{self.issuer}/token"


@dataclass
class Authorization:
    code: str
    state: str
    nonce: str
    verifier: str


@dataclass
class Redeemed:
    token: dict[str, Any]
    headers: Any


@pytest.fixture(scope="module")
def signing_key() -> DevSigningKey:
    return DevSigningKey.generate()


@pytest.fixture
async def provider(signing_key: DevSigningKey) -> AsyncIterator[Provider]:
    port = free_loopback_port()
    issuer = f"http://127.0.0.1:{port}"
    clock = Clock()
    a = DevClient("app-a", secrets.token_urlsafe(32), ("http://127.0.0.1:9/callback-a",))
    b = DevClient("app-b", secrets.token_urlsafe(32), ("http://127.0.0.1:9/callback-b",))
    app = create_dev_oidc_provider(
        issuer=issuer, clients={"app-a": a, "app-b": b}, signing_key=signing_key, clock=clock
    )
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    serve = asyncio.create_task(server.serve())
    deadline = time.monotonic() + 10
    while not server.started:
        assert not serve.done() and time.monotonic() < deadline, "the provider did not start"
        await asyncio.sleep(0.02)
    try:
        async with httpx.AsyncClient(base_url=issuer, timeout=10) as http:
            yield Provider(issuer=issuer, clock=clock, a=a, b=b, http=http)
    finally:
        server.should_exit = True
        await serve


def oauth_client(client: DevClient, **options: Any) -> Any:
    options = {
        "scope": "openid email",
        "redirect_uri": client.redirect_uris[0],
        "code_challenge_method": "S256",
        **options,
    }
    return AsyncOAuth2Client(client.client_id, client.client_secret, **options)


def authorize_url(provider: Provider, client: DevClient, **overrides: str | None) -> str:
    """A valid authorization request URL, with parameters replaced (None drops one)."""
    verifier = secrets.token_urlsafe(48)
    params: dict[str, str | None] = {
        "response_type": "code",
        "client_id": client.client_id,
        "redirect_uri": client.redirect_uris[0],
        "scope": "openid email",
        "state": "the-state",
        "nonce": "the-nonce",
        "code_challenge": base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
        .rstrip(b"=")
        .decode(),
        "code_challenge_method": "S256",
        **overrides,
    }
    kept = {k: v for k, v in params.items() if v is not None}
    return f"{provider.authorize_url}?{urlencode(kept)}"


def redirect_query(response: httpx.Response, redirect_uri: str) -> dict[str, list[str]]:
    """The query of a redirect to ``redirect_uri`` (and nowhere else)."""
    location = urlsplit(response.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == redirect_uri
    return parse_qs(location.query)


async def log_in(
    provider: Provider,
    client: DevClient,
    email: str,
    *,
    state: str | None = None,
    scope: str = "openid email",
) -> Authorization:
    """The browser's part: open the authorization URL, submit the login form, and
    read the code from the redirect (which is not followed)."""
    verifier = secrets.token_urlsafe(48)
    nonce = secrets.token_urlsafe(16)
    async with oauth_client(client, scope=scope) as oauth:
        url, state = oauth.create_authorization_url(
            provider.authorize_url,
            state=state or secrets.token_urlsafe(16),
            nonce=nonce,
            code_verifier=verifier,
        )
    page = await provider.http.get(url)
    assert page.status_code == 200, page.text
    form = LoginForm(page.text)
    assert form.action == provider.authorize_url
    done = await provider.http.post(form.action, data={**form.fields, "email": email})
    assert done.status_code == 303, done.text
    query = redirect_query(done, client.redirect_uris[0])
    assert query["state"] == [state]
    assert query["iss"] == [provider.issuer]
    assert "error" not in query
    return Authorization(code=query["code"][0], state=str(state), nonce=nonce, verifier=verifier)


async def redeem(
    provider: Provider,
    client: DevClient,
    auth: Authorization,
    *,
    verifier: str | None = None,
    **options: Any,
) -> Redeemed:
    """The client's part: exchange the code at the token endpoint (authlib raises OAuthError)."""
    seen: dict[str, Any] = {}

    def capture(response: Any) -> Any:
        seen["headers"] = response.headers
        return response

    async with oauth_client(client, **options) as oauth:
        oauth.register_compliance_hook("access_token_response", capture)
        token = await oauth.fetch_token(
            provider.token_url, code=auth.code, code_verifier=verifier or auth.verifier
        )
    return Redeemed(token=dict(token), headers=seen["headers"])


async def grant_error(
    provider: Provider, client: DevClient, auth: Authorization, **options: Any
) -> OAuthError:
    with pytest.raises(OAuthError) as raised:
        await redeem(provider, client, auth, **options)
    return raised.value


async def verify_id_token(
    provider: Provider, client: DevClient, auth: Authorization, id_token: str
) -> dict[str, Any]:
    """Verify the ID token as a relying party would: keys from the discovered JWKS."""
    config = (await provider.http.get("/.well-known/openid-configuration")).json()
    jwks = (await provider.http.get(config["jwks_uri"])).json()
    token = jwt.decode(id_token, KeySet.import_key_set(jwks), algorithms=["RS256"])
    assert token.header["alg"] == "RS256"
    assert token.header["kid"] == jwks["keys"][0]["kid"]
    JWTClaimsRegistry(
        now=int(provider.clock.now),
        iss={"essential": True, "value": provider.issuer},
        aud={"essential": True, "value": client.client_id},
        nonce={"essential": True, "value": auth.nonce},
        sub={"essential": True},
        exp={"essential": True},
        iat={"essential": True},
    ).validate(token.claims)
    return token.claims


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


# --------------------------------------------------------------------------- metadata


async def test_discovery_and_jwks_publish_the_endpoints_and_the_public_key_only(
    provider: Provider, signing_key: DevSigningKey
) -> None:
    config = (await provider.http.get("/.well-known/openid-configuration")).json()
    assert config["issuer"] == provider.issuer
    assert config["authorization_endpoint"] == f"{provider.issuer}/authorize"
    assert config["token_endpoint"] == f"{provider.issuer}/token"
    assert config["userinfo_endpoint"] == f"{provider.issuer}/userinfo"
    assert config["jwks_uri"] == f"{provider.issuer}/jwks"
    assert config["response_types_supported"] == ["code"]
    assert config["code_challenge_methods_supported"] == ["S256"]
    assert config["id_token_signing_alg_values_supported"] == ["RS256"]
    assert config["token_endpoint_auth_methods_supported"] == [
        "client_secret_basic",
        "client_secret_post",
    ]
    assert config["scopes_supported"] == ["openid", "email", "profile"]
    assert config["subject_types_supported"] == ["public"]

    jwks = (await provider.http.get("/jwks")).json()
    [key] = jwks["keys"]
    assert set(key) == {"kty", "use", "alg", "kid", "n", "e"}  # no d, p, q, dp, dq, qi
    assert (key["kty"], key["use"], key["alg"]) == ("RSA", "sig", "RS256")
    assert key["kid"] == signing_key.kid
    # RFC 7638: the kid is the SHA-256 of the canonical required members
    canonical = json.dumps(
        {"e": key["e"], "kty": "RSA", "n": key["n"]}, separators=(",", ":"), sort_keys=True
    )
    assert key["kid"] == b64url(hashlib.sha256(canonical.encode()).digest())


# --------------------------------------------------------------------------- the flow


async def test_the_code_flow_yields_a_verified_id_token_and_a_stable_sub(
    provider: Provider,
) -> None:
    auth = await log_in(provider, provider.a, "Alice@Example.com")
    redeemed = await redeem(provider, provider.a, auth)
    token = redeemed.token
    assert token["token_type"] == "Bearer"
    assert token["expires_in"] == 300
    assert token["scope"] == "openid email"
    assert redeemed.headers["cache-control"] == "no-store"
    claims = await verify_id_token(provider, provider.a, auth, token["id_token"])
    now = int(provider.clock.now)
    expected_sub = "dev-" + hashlib.sha256(b"alice@example.com").hexdigest()[:24]
    assert claims["sub"] == expected_sub
    assert claims["azp"] == provider.a.client_id
    assert (claims["iat"], claims["auth_time"], claims["exp"]) == (now, now, now + 300)
    assert claims["email"] == "Alice@Example.com"
    assert claims["email_verified"] is False
    at_hash = b64url(hashlib.sha256(token["access_token"].encode()).digest()[:16])
    assert claims["at_hash"] == at_hash

    info = await provider.http.get(
        "/userinfo", headers={"Authorization": f"Bearer {token['access_token']}"}
    )
    assert info.status_code == 200
    assert info.json() == {
        "sub": expected_sub,
        "email": "Alice@Example.com",
        "email_verified": False,
    }

    # the same address (any case) is the same user; another address is another user
    again = await log_in(provider, provider.a, "alice@example.com")
    claims_again = await verify_id_token(
        provider, provider.a, again, (await redeem(provider, provider.a, again)).token["id_token"]
    )
    assert claims_again["sub"] == expected_sub
    bob = await log_in(provider, provider.a, "bob@example.com")
    bob_claims = await verify_id_token(
        provider, provider.a, bob, (await redeem(provider, provider.a, bob)).token["id_token"]
    )
    assert bob_claims["sub"].startswith("dev-")
    assert bob_claims["sub"] != expected_sub


async def test_client_secret_post_authenticates_too(provider: Provider) -> None:
    auth = await log_in(provider, provider.b, "carol@example.com")
    token = (
        await redeem(provider, provider.b, auth, token_endpoint_auth_method="client_secret_post")
    ).token
    claims = await verify_id_token(provider, provider.b, auth, token["id_token"])
    assert claims["aud"] == provider.b.client_id


async def test_email_claims_are_released_only_for_the_email_scope(provider: Provider) -> None:
    auth = await log_in(provider, provider.a, "alice@example.com", scope="openid")
    token = (await redeem(provider, provider.a, auth, scope="openid")).token
    assert token["scope"] == "openid"
    claims = await verify_id_token(provider, provider.a, auth, token["id_token"])
    assert "email" not in claims
    bearer = {"Authorization": f"Bearer {token['access_token']}"}
    info = (await provider.http.get("/userinfo", headers=bearer)).json()
    assert info == {"sub": claims["sub"]}


# --------------------------------------------------------------------------- the token endpoint


async def test_a_wrong_code_verifier_is_invalid_grant_and_burns_the_code(
    provider: Provider,
) -> None:
    auth = await log_in(provider, provider.a, "alice@example.com")
    error = await grant_error(provider, provider.a, auth, verifier=secrets.token_urlsafe(48))
    assert error.error == "invalid_grant"
    assert (await grant_error(provider, provider.a, auth)).error == "invalid_grant"


async def test_a_reused_code_is_refused_and_its_access_token_revoked(provider: Provider) -> None:
    auth = await log_in(provider, provider.a, "alice@example.com")
    access_token = (await redeem(provider, provider.a, auth)).token["access_token"]
    bearer = {"Authorization": f"Bearer {access_token}"}
    assert (await provider.http.get("/userinfo", headers=bearer)).status_code == 200

    assert (await grant_error(provider, provider.a, auth)).error == "invalid_grant"
    assert (await provider.http.get("/userinfo", headers=bearer)).status_code == 401


async def test_a_code_expires_after_60_seconds(provider: Provider) -> None:
    early = await log_in(provider, provider.a, "alice@example.com")
    late = await log_in(provider, provider.a, "alice@example.com")
    provider.clock.advance(59)
    assert "id_token" in (await redeem(provider, provider.a, early)).token
    provider.clock.advance(2)
    error = await grant_error(provider, provider.a, late)
    assert error.error == "invalid_grant"
    assert "expired" in error.description


async def test_a_code_issued_to_client_a_cannot_be_redeemed_by_client_b(
    provider: Provider,
) -> None:
    auth = await log_in(provider, provider.a, "alice@example.com")
    # B authenticates correctly and even presents A's redirect URI
    error = await grant_error(provider, provider.b, auth, redirect_uri=provider.a.redirect_uris[0])
    assert error.error == "invalid_grant"
    assert "another client" in error.description
    assert (await grant_error(provider, provider.a, auth)).error == "invalid_grant"


@pytest.mark.parametrize("method", ["client_secret_basic", "client_secret_post"])
async def test_a_wrong_client_secret_is_401_invalid_client(provider: Provider, method: str) -> None:
    auth = await log_in(provider, provider.a, "alice@example.com")
    impostor = DevClient(provider.a.client_id, secrets.token_urlsafe(32), provider.a.redirect_uris)
    error = await grant_error(provider, impostor, auth, token_endpoint_auth_method=method)
    assert error.error == "invalid_client"

    raw = await provider.http.post(
        "/token",
        data={
            "grant_type": "authorization_code",
            "code": auth.code,
            "redirect_uri": provider.a.redirect_uris[0],
            "code_verifier": auth.verifier,
        },
        auth=(provider.a.client_id, "wrong"),
    )
    assert raw.status_code == 401
    assert raw.json()["error"] == "invalid_client"
    assert raw.headers["www-authenticate"].startswith("Basic ")
    assert raw.headers["cache-control"] == "no-store"
    # an unauthenticated request does not consume the code: its owner still can
    assert "id_token" in (await redeem(provider, provider.a, auth)).token


async def test_token_requests_must_be_well_formed(provider: Provider) -> None:
    auth = await log_in(provider, provider.a, "alice@example.com")
    creds = (provider.a.client_id, provider.a.client_secret)
    body = {
        "grant_type": "authorization_code",
        "code": auth.code,
        "redirect_uri": provider.a.redirect_uris[0],
        "code_verifier": auth.verifier,
    }
    wrong_grant = await provider.http.post(
        "/token", data={**body, "grant_type": "password"}, auth=creds
    )
    assert (wrong_grant.status_code, wrong_grant.json()["error"]) == (
        400,
        "unsupported_grant_type",
    )
    as_json = await provider.http.post("/token", json=body, auth=creds)
    assert (as_json.status_code, as_json.json()["error"]) == (400, "invalid_request")
    other_uri = await provider.http.post(
        "/token", data={**body, "redirect_uri": "http://127.0.0.1:9/elsewhere"}, auth=creds
    )
    assert (other_uri.status_code, other_uri.json()["error"]) == (400, "invalid_grant")
    assert other_uri.headers["cache-control"] == "no-store"


# --------------------------------------------------------------------------- the authorize endpoint


@pytest.mark.parametrize(
    ("overrides", "error", "state"),
    [
        ({"code_challenge": None}, "invalid_request", "the-state"),
        ({"code_challenge_method": "plain"}, "invalid_request", "the-state"),
        ({"code_challenge_method": None}, "invalid_request", "the-state"),
        ({"code_challenge": "too-short"}, "invalid_request", "the-state"),
        ({"nonce": None}, "invalid_request", "the-state"),
        ({"state": None}, "invalid_request", None),
        ({"scope": "email"}, "invalid_scope", "the-state"),
        ({"response_type": "token"}, "unsupported_response_type", "the-state"),
        ({"prompt": "none"}, "login_required", "the-state"),
    ],
    ids=[
        "no-code-challenge",
        "plain-method",
        "no-method",
        "malformed-challenge",
        "no-nonce",
        "no-state",
        "no-openid-scope",
        "implicit",
        "prompt-none",
    ],
)
async def test_invalid_requests_are_redirected_back_with_an_error(
    provider: Provider, overrides: dict[str, str | None], error: str, state: str | None
) -> None:
    response = await provider.http.get(authorize_url(provider, provider.a, **overrides))
    assert response.status_code == 302
    query = redirect_query(response, provider.a.redirect_uris[0])
    assert query["error"] == [error]
    assert query["error_description"]
    assert query.get("state") == ([state] if state else None)
    assert "code" not in query


@pytest.mark.parametrize(
    "overrides",
    [
        {"redirect_uri": "http://evil.example/callback-a"},
        {"redirect_uri": "http://127.0.0.1:9/callback-a/extra"},
        {"redirect_uri": "http://127.0.0.1:9/callback-a?x=1"},
        {"redirect_uri": "http://127.0.0.1:9/callback-b"},  # B's, not A's
        {"redirect_uri": None},
        {"client_id": "nobody"},
        {"client_id": None},
    ],
    ids=[
        "foreign",
        "longer-path",
        "extra-query",
        "other-clients",
        "no-redirect-uri",
        "unknown-client",
        "no-client",
    ],
)
async def test_an_unvalidated_client_or_redirect_uri_is_refused_without_redirecting(
    provider: Provider, overrides: dict[str, str | None]
) -> None:
    url = authorize_url(provider, provider.a, code_challenge_method="plain", **overrides)
    response = await provider.http.get(url)
    assert response.status_code == 400
    assert "location" not in response.headers
    assert response.json()["error"] == "invalid_request"

    page = await provider.http.get(url, headers={"Accept": "text/html"})
    assert page.status_code == 400
    assert page.headers["content-type"].startswith("text/html")
    assert "location" not in page.headers
    assert "evil.example" not in page.text


async def test_the_login_post_is_validated_again(provider: Provider) -> None:
    page = await provider.http.get(authorize_url(provider, provider.a))
    form = LoginForm(page.text)
    assert form.fields["code_challenge_method"] == "S256"

    plain = await provider.http.post(
        "/authorize",
        data={**form.fields, "code_challenge_method": "plain", "email": "a@example.com"},
    )
    assert plain.status_code == 303
    assert redirect_query(plain, provider.a.redirect_uris[0])["error"] == ["invalid_request"]

    evil = await provider.http.post(
        "/authorize",
        data={**form.fields, "redirect_uri": "http://evil.example/cb", "email": "a@example.com"},
    )
    assert evil.status_code == 400
    assert "location" not in evil.headers


async def test_the_login_page_escapes_what_it_echoes(provider: Provider) -> None:
    state = "\"'><script>alert(1)</script>&amp;"
    page = await provider.http.get(authorize_url(provider, provider.a, state=state))
    assert page.status_code == 200
    assert "<script>" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&amp;amp;" in page.text
    csp = page.headers["content-security-policy"]
    assert "default-src 'none'" in csp
    assert "script-src" not in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["referrer-policy"] == "no-referrer"

    # escaping is lossless: the state comes back byte for byte
    auth = await log_in(provider, provider.a, "alice@example.com", state=state)
    assert auth.state == state


@pytest.mark.parametrize(
    "email",
    ["", "not-an-email", "a@b@example.com", "<script>@example.com", "a" * 250 + "@example.com"],
    ids=["empty", "no-at", "two-ats", "markup", "too-long"],
)
async def test_an_invalid_email_shows_the_form_again(provider: Provider, email: str) -> None:
    form = LoginForm((await provider.http.get(authorize_url(provider, provider.a))).text)
    response = await provider.http.post("/authorize", data={**form.fields, "email": email})
    assert response.status_code == 400
    assert "location" not in response.headers
    assert "valid email address" in response.text
    assert "<script>@" not in response.text
    assert LoginForm(response.text).fields == form.fields


# --------------------------------------------------------------------------- userinfo


async def test_userinfo_needs_a_live_access_token(provider: Provider) -> None:
    missing = await provider.http.get("/userinfo")
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"].startswith("Bearer")
    bogus = await provider.http.post("/userinfo", headers={"Authorization": "Bearer nope"})
    assert bogus.status_code == 401
    assert 'error="invalid_token"' in bogus.headers["www-authenticate"]

    auth = await log_in(provider, provider.a, "alice@example.com")
    access_token = (await redeem(provider, provider.a, auth)).token["access_token"]
    bearer = {"Authorization": f"Bearer {access_token}"}
    assert (await provider.http.post("/userinfo", headers=bearer)).status_code == 200
    basic = {"Authorization": f"Basic {access_token}"}
    assert (await provider.http.get("/userinfo", headers=basic)).status_code == 401
    provider.clock.advance(300)
    assert (await provider.http.get("/userinfo", headers=bearer)).status_code == 401


# --------------------------------------------------------------------------- key files


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_signing_key_is_created_private_and_reused(tmp_path: Path) -> None:
    path = tmp_path / "mb" / "oidc" / "signing-key.pem"
    first = DevSigningKey.load_or_create(path)
    assert mode(path) == 0o600
    assert mode(path.parent) == 0o700
    assert mode(path.parent.parent) == 0o700
    assert path.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    assert sorted(p.name for p in path.parent.iterdir()) == ["signing-key.pem"]  # no temp left
    assert first.key.private_key is not None and first.key.private_key.key_size == 2048

    content = path.read_bytes()
    second = DevSigningKey.load_or_create(path)
    assert second.kid == first.kid
    assert second.public_jwk() == first.public_jwk()
    assert path.read_bytes() == content
    assert first.kid not in repr(DevSigningKey.generate())
    assert "PRIVATE" not in repr(first)


@pytest.mark.parametrize("exposed", [0o644, 0o640, 0o604, 0o660], ids=oct)
def test_an_exposed_signing_key_is_refused(tmp_path: Path, exposed: int) -> None:
    path = tmp_path / "signing-key.pem"
    DevSigningKey.load_or_create(path)
    pem = path.read_text()
    path.chmod(exposed)
    with pytest.raises(ValueError, match=f"mode {exposed:04o}") as raised:
        DevSigningKey.load_or_create(path)
    message = str(raised.value)
    assert "PRIVATE KEY" not in message
    body = "".join(pem.splitlines()[1:-1])
    assert not any(body[i : i + 16] in message for i in range(0, len(body) - 16, 8))
    assert mode(path) == exposed  # neither "fixed" nor replaced behind the user's back
    assert path.read_text() == pem


def test_a_symlinked_or_garbage_signing_key_is_refused(tmp_path: Path) -> None:
    real = tmp_path / "real.pem"
    DevSigningKey.load_or_create(real)
    link = tmp_path / "link.pem"
    link.symlink_to(real)
    with pytest.raises(ValueError, match="symbolic link"):
        DevSigningKey.load_or_create(link)
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("-----BEGIN PRIVATE KEY-----\nc2VjcmV0\n-----END PRIVATE KEY-----\n")
    garbage.chmod(0o600)
    with pytest.raises(ValueError, match="PEM private key") as raised:
        DevSigningKey.load_or_create(garbage)
    assert "c2VjcmV0" not in str(raised.value)


def test_the_client_secret_is_created_private_and_reused(tmp_path: Path) -> None:
    path = tmp_path / "mb" / "oidc-client-secret"
    secret = load_or_create_client_secret(path)
    assert len(base64.urlsafe_b64decode(secret + "=")) == 32
    assert mode(path) == 0o600
    assert mode(path.parent) == 0o700
    assert load_or_create_client_secret(path) == secret
    assert load_or_create_client_secret(tmp_path / "other") != secret

    path.chmod(0o644)
    with pytest.raises(ValueError, match="mode 0644") as raised:
        load_or_create_client_secret(path)
    assert secret not in str(raised.value)
    path.chmod(0o600)
    path.write_text("short\n")
    with pytest.raises(ValueError, match="client secret"):
        load_or_create_client_secret(path)


def test_files_are_written_with_owner_only_permissions_whatever_the_umask(
    tmp_path: Path,
) -> None:
    old = os.umask(0)
    try:
        secret_path = tmp_path / "loose" / "secret"
        load_or_create_client_secret(secret_path)
    finally:
        os.umask(old)
    assert mode(secret_path) == 0o600
    assert mode(secret_path.parent) == 0o700


def test_the_client_registration_is_checked() -> None:
    with pytest.raises(ValueError, match="fragment"):
        DevClient("app", "secret", ("http://127.0.0.1/cb#frag",))
    with pytest.raises(ValueError, match="non-empty"):
        DevClient("app", "secret", ())
    client = DevClient("app", "hunter2-secret", ("http://127.0.0.1/cb",))
    assert "hunter2" not in repr(client)

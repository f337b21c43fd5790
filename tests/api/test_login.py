"""Login with OpenID Connect, sessions, CSRF, logout and email verification, end to end.

The identity provider is ``oidc-provider-mock`` (a third-party implementation on
authlib, so our client is proven against a provider we did not write), served
over HTTP on loopback; the API runs in-process and calls it for real. Session
and link expiry follow a controlled clock, never sleep.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import oidc_provider_mock  # type: ignore[import-untyped]
import pytest
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from api.services import Services
from schemas.settings import Settings
from store.audit import AuditLog
from store.db import Database
from store.outbox import MailOutbox
from tests.api.login_flow import Browser, query_of, verification_link
from tests.workflows.pipeline_fakes import FakePipeline


class Clock:
    """The time the API sees; tests move it forward."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture(scope="module")
def provider_url() -> Iterator[str]:
    with oidc_provider_mock.run_server_in_thread(require_nonce=True) as server:
        yield f"http://localhost:{server.server_port}"


@dataclass
class World:
    services: Services
    clock: Clock
    provider_url: str
    app: object
    outbox: MailOutbox

    def browser(self, *, https: bool = False, client_ip: str = "127.0.0.1") -> Browser:
        base = "https://testserver" if https else "http://testserver"
        api = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app, client=(client_ip, 50000)),  # type: ignore[arg-type]
            base_url=base,
            follow_redirects=False,
        )
        return Browser(api=api, provider=httpx.AsyncClient(follow_redirects=False))


def _settings(tmp_path: Path, provider_url: str, **extra: object) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        rate_limit_per_minute=100_000,
        oidc_issuer=provider_url,
        oidc_client_id="mb-api",
        oidc_client_secret="client-secret",
        **extra,  # type: ignore[arg-type]
    )


@pytest.fixture
async def world(
    db: Database,
    env: WorkflowEnvironment,
    workers: FakePipeline,
    tmp_path: Path,
    provider_url: str,
) -> AsyncIterator[World]:
    clock = Clock()
    services = Services.build(_settings(tmp_path, provider_url), db, env.client, clock=clock)
    yield World(services, clock, provider_url, create_app(services), MailOutbox(db))


async def login(world: World, sub: str, email: str | None = None) -> Browser:
    """A logged-in browser for ``sub`` (the mock gives it ``email``, default the sub)."""
    if email is not None:
        async with httpx.AsyncClient() as admin:
            r = await admin.put(f"{world.provider_url}/users/{sub}", json={"email": email})
            assert r.status_code in (200, 204), r.text
    browser = world.browser()
    answer = await browser.login(sub)
    assert answer.status_code == 303, answer.text
    return browser


async def verify(world: World, browser: Browser, email: str) -> None:
    link = await verification_link(world.outbox, email)
    r = await browser.api.get(link.replace("http://127.0.0.1:8000", ""))
    assert r.status_code == 200, r.text


async def test_login_creates_a_session_and_verification_unlocks_deploying(world: World) -> None:
    browser = world.browser()
    started = await browser.start_login(return_to="/v1/apps")
    assert started.status_code == 303
    authorize = started.headers["location"]
    request = query_of(authorize)
    # PKCE with S256, state and nonce all travel to the provider.
    assert request["code_challenge_method"] == "S256" and len(request["code_challenge"]) == 43
    assert request["state"] and request["nonce"] and request["state"] != request["nonce"]
    login_cookie = started.headers["set-cookie"]
    assert "HttpOnly" in login_cookie and "SameSite=lax" in login_cookie
    answer = await browser.callback(await browser.authorize(authorize, "alice@example.com"))
    assert answer.status_code == 303 and answer.headers["location"] == "/v1/apps"
    cookie = next(c for c in answer.headers.get_list("set-cookie") if c.startswith("mb_session="))
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie  # plain HTTP here; the TLS test below checks Secure

    me = (await browser.api.get("/v1/me")).json()
    assert me["email"] == "alice@example.com" and me["email_verified"] is False
    assert me["via"] == "session" and me["user_id"].startswith("u_")
    csrf = {"X-CSRF-Token": me["csrf_token"]}

    refused = await browser.api.post(
        "/v1/apps/alice-app/deployments", json={"prompt": "a todo list"}, headers=csrf
    )
    assert refused.status_code == 403 and "verify your email" in refused.json()["detail"]
    assert (await browser.api.get("/v1/apps")).status_code == 403

    await verify(world, browser, "alice@example.com")
    assert (await browser.api.get("/v1/me")).json()["email_verified"] is True
    accepted = await browser.api.post(
        "/v1/apps/alice-app/deployments", json={"prompt": "a todo list"}, headers=csrf
    )
    assert accepted.status_code == 202, accepted.text
    assert (await browser.api.get("/v1/apps")).json() == ["alice-app"]
    logins = await AuditLog(world.services.db).search(action="login", limit=10)
    assert [r.actor for r in logins] == [me["user_id"]]


async def test_a_verification_link_works_once_and_not_after_it_expires(world: World) -> None:
    browser = await login(world, "carol@example.com")
    link = (await verification_link(world.outbox, "carol@example.com")).replace(
        "http://127.0.0.1:8000", ""
    )
    # A new link replaces the first: the first stops working.
    world.clock.advance(seconds=61)
    csrf = {"X-CSRF-Token": await browser.csrf()}
    resent = await browser.api.post("/v1/auth/verify-email/resend", headers=csrf)
    assert resent.status_code == 200, resent.text
    replaced = await browser.api.get(link)
    assert replaced.status_code == 400 and "already used or replaced" in replaced.text
    second = (await verification_link(world.outbox, "carol@example.com")).replace(
        "http://127.0.0.1:8000", ""
    )
    assert second != link
    # Expired: one second past its lifetime (24 h by default).
    world.clock.advance(hours=24, seconds=1)
    expired = await browser.api.get(second)
    assert expired.status_code == 400 and "expired" in expired.text
    # Logging in again (the session idled out meanwhile) mails a fresh link.
    browser = await login(world, "carol@example.com")
    third = (await verification_link(world.outbox, "carol@example.com")).replace(
        "http://127.0.0.1:8000", ""
    )
    assert (await browser.api.get(third)).status_code == 200
    reused = await browser.api.get(third)
    assert reused.status_code == 400 and "already used" in reused.text
    # A forged or altered link fails its signature.
    verification_id, kid, mac = third.partition("token=")[2].split(".")
    forged = await browser.api.get(f"/v1/auth/verify-email?token={verification_id}.{kid}.A{mac}")
    assert forged.status_code == 400 and "not valid" in forged.text
    # A valid MAC does not carry over to another row's id.
    other_id = second.partition("token=")[2].split(".")[0]
    swapped = await browser.api.get(f"/v1/auth/verify-email?token={other_id}.{kid}.{mac}")
    assert swapped.status_code == 400 and "not valid" in swapped.text


async def test_resending_is_throttled(world: World) -> None:
    browser = await login(world, "dave@example.com")
    csrf = {"X-CSRF-Token": await browser.csrf()}
    too_soon = await browser.api.post("/v1/auth/verify-email/resend", headers=csrf)
    assert too_soon.status_code == 429 and int(too_soon.headers["retry-after"]) <= 60


async def test_sessions_expire_when_idle_and_absolutely(world: World) -> None:
    browser = await login(world, "erin@example.com")
    assert (await browser.api.get("/v1/me")).status_code == 200
    world.clock.advance(minutes=29)
    assert (await browser.api.get("/v1/me")).status_code == 200  # activity renews idleness
    world.clock.advance(minutes=29)
    assert (await browser.api.get("/v1/me")).status_code == 200
    world.clock.advance(minutes=30, seconds=1)
    idle = await browser.api.get("/v1/me")
    assert idle.status_code == 401 and "expired" in idle.json()["detail"]

    busy = await login(world, "erin@example.com")
    for _ in range(12 * 3 - 2):  # active every 20 minutes, for just under 12 hours
        world.clock.advance(minutes=20)
        assert (await busy.api.get("/v1/me")).status_code == 200
    world.clock.advance(minutes=40)  # 12 h since login: over, however active
    assert (await busy.api.get("/v1/me")).status_code == 401


async def test_logout_and_logout_everywhere_revoke(world: World) -> None:
    laptop = await login(world, "frank@example.com")
    phone = await login(world, "frank@example.com")
    tablet = await login(world, "frank@example.com")
    stolen = laptop.api.cookies["mb_session"]

    no_csrf = await laptop.api.post("/v1/auth/logout")
    assert no_csrf.status_code == 403 and "CSRF" in no_csrf.text
    out = await laptop.api.post("/v1/auth/logout", headers={"X-CSRF-Token": await laptop.csrf()})
    assert out.status_code == 200 and out.json() == {"sessions_ended": 1}
    assert (await laptop.api.get("/v1/me")).status_code == 401
    # Replaying the old cookie by hand does not bring the session back.
    replay = world.browser()
    replay.api.cookies.set("mb_session", stolen)
    assert (await replay.api.get("/v1/me")).status_code == 401
    assert (await phone.api.get("/v1/me")).status_code == 200

    everywhere = await phone.api.post(
        "/v1/auth/logout-everywhere", headers={"X-CSRF-Token": await phone.csrf()}
    )
    assert everywhere.json() == {"sessions_ended": 2}
    assert (await phone.api.get("/v1/me")).status_code == 401
    assert (await tablet.api.get("/v1/me")).status_code == 401


async def test_csrf_token_is_required_on_state_changes_made_with_a_session(world: World) -> None:
    browser = await login(world, "gina@example.com")
    await verify(world, browser, "gina@example.com")
    body = {"prompt": "a todo list"}
    missing = await browser.api.post("/v1/apps/gina-app/deployments", json=body)
    wrong = await browser.api.post(
        "/v1/apps/gina-app/deployments", json=body, headers={"X-CSRF-Token": "x" * 43}
    )
    assert missing.status_code == wrong.status_code == 403
    assert await world.services.apps.owner("gina-app") is None  # nothing happened
    # Another user's CSRF token does not work on this session either.
    other = await login(world, "hank@example.com")
    crossed = await browser.api.post(
        "/v1/apps/gina-app/deployments", json=body, headers={"X-CSRF-Token": await other.csrf()}
    )
    assert crossed.status_code == 403
    ok = await browser.api.post(
        "/v1/apps/gina-app/deployments", json=body, headers={"X-CSRF-Token": await browser.csrf()}
    )
    assert ok.status_code == 202, ok.text


async def test_login_always_issues_a_new_session_id(world: World) -> None:
    browser = await login(world, "ivy@example.com")
    planted = browser.api.cookies["mb_session"]
    again = await browser.login("ivy@example.com")
    assert again.status_code == 303
    fresh = browser.api.cookies["mb_session"]
    assert fresh != planted
    assert await world.services.sessions.check(planted) is None  # the old one is revoked


async def test_the_callback_refuses_a_wrong_state_a_replay_and_a_missing_cookie(
    world: World,
) -> None:
    browser = world.browser()
    started = await browser.start_login()
    callback = await browser.authorize(started.headers["location"], "jack@example.com")
    tampered = callback.replace("state=", "state=x")
    assert (await browser.callback(tampered)).status_code == 400
    # The wrong state burned the attempt: the genuine callback no longer works either.
    assert (await browser.callback(callback)).status_code == 400

    browser = world.browser()
    started = await browser.start_login()
    callback = await browser.authorize(started.headers["location"], "jack@example.com")
    attacker = world.browser()  # has the callback URL, but not the victim's login cookie
    assert (await attacker.callback(callback)).status_code == 400
    assert (await browser.callback(callback)).status_code == 303
    replayed = await browser.callback(callback)
    assert replayed.status_code == 400 and "already used" in replayed.text


async def test_two_session_cookies_are_refused_and_change_nothing(world: World) -> None:
    """A page of the same host can add its own ``mb_session`` beside the user's; the API
    then refuses the request (400) instead of taking either cookie."""
    victim = await login(world, "kim@example.com")
    attacker = await login(world, "mallory@example.com")
    mine, planted = victim.api.cookies["mb_session"], attacker.api.cookies["mb_session"]
    csrf = await victim.csrf()
    raw = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=world.app),  # type: ignore[arg-type]
        base_url="http://testserver",
    )
    async with raw:
        for cookie in (
            f"mb_session={mine}; mb_session={planted}",
            f"mb_session={planted}; mb_session={mine}",
        ):
            me = await raw.get("/v1/me", headers={"Cookie": cookie})
            assert me.status_code == 400 and "2 mb_session cookies" in me.json()["detail"]
            out = await raw.post(
                "/v1/auth/logout", headers={"Cookie": cookie, "X-CSRF-Token": csrf}
            )
            assert out.status_code == 400
        # two Cookie headers count as well (Starlette alone reads only the first)
        both = await raw.get(
            "/v1/me",
            headers=[("Cookie", f"mb_session={mine}"), ("Cookie", f"mb_session={planted}")],
        )
        assert both.status_code == 400
    assert await world.services.sessions.check(mine) is not None  # nothing was logged out
    assert await world.services.sessions.check(planted) is not None
    assert (await victim.api.get("/v1/me")).json()["email"] == "kim@example.com"


async def test_two_login_cookies_are_refused_at_the_callback(world: World) -> None:
    browser = world.browser()
    started = await browser.start_login()
    callback = urlsplit(await browser.authorize(started.headers["location"], "lou@example.com"))
    real = browser.api.cookies["mb_login"]
    for cookie in (f"mb_login={real}; mb_login=planted", f"mb_login=planted; mb_login={real}"):
        answer = await browser.api.get(
            f"{callback.path}?{callback.query}", headers={"Cookie": cookie}
        )
        assert answer.status_code == 400 and "2 mb_login cookies" in answer.json()["detail"]
        assert "mb_session" not in answer.headers.get("set-cookie", "")
    assert (await browser.callback(urlunsplit(callback))).status_code == 303  # still usable


async def test_users_are_keyed_by_issuer_and_subject_never_by_email(world: World) -> None:
    one = await login(world, "sub-one", email="shared@example.com")
    two = await login(world, "sub-two", email="shared@example.com")
    me_one = (await one.api.get("/v1/me")).json()
    me_two = (await two.api.get("/v1/me")).json()
    assert me_one["user_id"] != me_two["user_id"]
    await verify(world, two, "shared@example.com")
    assert (await one.api.get("/v1/me")).json()["email_verified"] is False
    # The same subject with a new email is the same user, and must verify it again.
    changed = await login(world, "sub-two", email="renamed@example.com")
    me_changed = (await changed.api.get("/v1/me")).json()
    assert me_changed["user_id"] == me_two["user_id"]
    assert me_changed["email"] == "renamed@example.com" and me_changed["email_verified"] is False


async def test_return_to_cannot_leave_the_site(world: World) -> None:
    for target in ("https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:x"):
        browser = world.browser()
        answer = await browser.login("kim@example.com", return_to=target)
        assert answer.headers["location"] == "/v1/me", target


async def test_return_to_may_be_a_page_of_the_operators_origin_and_nothing_like_it(
    world: World,
) -> None:
    """The operators' origin (the Temporal UI behind our login) sends its visitors here;
    after the login they land back on the page they asked for, and only there."""
    origin = world.services.settings.operator_base_url
    page = f"{origin}/namespaces/default/workflows/deploy-shop-1?tab=memo"
    answer = await world.browser(client_ip="127.0.0.10").login("kim@example.com", page)
    assert answer.headers["location"] == page
    look_alikes = (
        origin,
        f"{origin}@evil.example/",
        f"{origin}0/",
        f"{origin}.evil.example/",
        f"{origin}/\\evil.example",
        origin.replace("http://", "https://") + "/",
        f"{origin}/\nSet-Cookie:x=1",
    )
    for i, target in enumerate(look_alikes):
        browser = world.browser(client_ip=f"127.0.0.{20 + i}")
        answer = await browser.login("kim@example.com", return_to=target)
        assert answer.headers["location"] == "/v1/me", target


async def test_login_is_throttled_per_address(world: World) -> None:
    limit = world.services.settings.login_attempts_per_minute
    browser = world.browser()
    answers = [(await browser.start_login()).status_code for _ in range(limit + 2)]
    assert answers[:limit] == [303] * limit
    assert answers[limit:] == [429, 429]
    limited = await browser.start_login()
    assert int(limited.headers["retry-after"]) >= 1
    # The first refusal of the window is audited (for the anomaly rules), once.
    (row,) = await AuditLog(world.services.db).search(action="rate.limited", limit=10)
    assert row.resource == "login:127.0.0.1" and row.outcome == "denied"


async def test_a_provider_naming_another_issuer_is_refused(
    db: Database, env: WorkflowEnvironment, tmp_path: Path, provider_url: str
) -> None:
    # The mock names itself after the Host it is reached at: 127.0.0.1 is not "localhost".
    other = provider_url.replace("localhost", "127.0.0.1")
    services = Services.build(_settings(tmp_path, provider_url), db, env.client)
    services.oidc = type(services.oidc)(  # type: ignore[misc]
        issuer=f"{other}/tenant", client_id="mb-api", client_secret="x", redirect_uri="http://x/cb"
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(services)), base_url="http://testserver"
    ) as api:
        r = await api.get("/v1/auth/login")
    assert r.status_code in (502, 503) and "set-cookie" not in r.headers


async def test_under_tls_the_session_cookie_is_secure_and_host_locked(
    db: Database, env: WorkflowEnvironment, tmp_path: Path, provider_url: str
) -> None:
    services = Services.build(_settings(tmp_path, provider_url, tls=True), db, env.client)
    world = World(services, Clock(), provider_url, create_app(services), MailOutbox(db))
    browser = world.browser(https=True)
    answer = await browser.login("lee@example.com")
    cookie = next(c for c in answer.headers.get_list("set-cookie") if "mb_session=" in c)
    assert cookie.startswith("__Host-mb_session=")
    assert "Secure" in cookie and "HttpOnly" in cookie and "Path=/" in cookie
    assert "Domain" not in cookie
    assert (await browser.api.get("/v1/me")).status_code == 200


async def test_a_sign_in_from_a_new_address_is_mailed_to_a_verified_user(world: World) -> None:
    first = await login(world, "olga@example.com")
    await verify(world, first, "olga@example.com")
    notices = "New sign-in to your MicroBuilder account"

    async def subjects() -> list[str]:
        return [m.subject for m in await world.outbox.recent("olga@example.com")]

    again = world.browser()  # the same address: nothing to report
    assert (await again.login("olga@example.com")).status_code == 303
    assert notices not in await subjects()
    elsewhere = world.browser(client_ip="127.0.0.2")
    assert (await elsewhere.login("olga@example.com")).status_code == 303
    mails = [m for m in await world.outbox.recent("olga@example.com") if m.subject == notices]
    assert len(mails) == 1 and "127.0.0.2" in mails[0].body
    # An unverified account gets no security mail (the address may not be theirs).
    await login(world, "pete@example.com")
    await world.browser(client_ip="127.0.0.3").login("pete@example.com")
    assert notices not in [m.subject for m in await world.outbox.recent("pete@example.com")]


async def test_secret_changes_and_reveals_are_mailed_without_the_value(world: World) -> None:
    browser = await login(world, "quinn@example.com")
    await verify(world, browser, "quinn@example.com")
    csrf = {"X-CSRF-Token": await browser.csrf()}
    assert (
        await browser.api.post("/v1/apps", json={"app_id": "quinn-app"}, headers=csrf)
    ).status_code == 201
    value = "quinn-very-secret-value"
    put = await browser.api.put(
        "/v1/apps/quinn-app/secrets/API_KEY", json={"value": value}, headers=csrf
    )
    assert put.status_code == 200, put.text
    shown = await browser.api.post("/v1/apps/quinn-app/secrets/API_KEY/reveal", headers=csrf)
    assert shown.json()["value"] == value
    gone = await browser.api.delete("/v1/apps/quinn-app/secrets/API_KEY", headers=csrf)
    assert gone.status_code == 204
    mails = await world.outbox.recent("quinn@example.com")
    subjects = [m.subject for m in mails]
    for what in ("changed", "revealed", "deleted"):
        assert f"Secret API_KEY of quinn-app was {what}" in subjects
    assert all(value not in m.body for m in mails)

"""A browser for the login tests: follows the OIDC redirects between our API
(in-process, over ASGI) and a real identity provider (over HTTP on loopback).

The provider is ``oidc-provider-mock`` everywhere (``mb up``'s development login
included), and this module is the one place that knows how its login page is
filled in: :func:`dev_login` for HTTP clients, :func:`dev_login_in_browser` for
Chromium.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from html.parser import HTMLParser
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx
from playwright.async_api import Page

from store.outbox import MailOutbox

DEV_LOGIN_FIELD = "sub"
"""The login page's one text field: the subject, which a new user also gets as email."""
_DEV_LOGIN_FORM = f"form:has(input[name={DEV_LOGIN_FIELD}])"


def dev_login(page_url: str, page: str, subject: str) -> tuple[str, dict[str, str]]:
    """Where the provider's login page at ``page_url`` posts, and the form that logs
    ``subject`` in (an email address logs in as itself)."""
    forms = Forms(page).forms
    action, fields = next((a, f) for a, f in forms if DEV_LOGIN_FIELD in f)
    return urljoin(page_url, action or ""), {**fields, DEV_LOGIN_FIELD: subject}


async def dev_login_in_browser(page: Page, subject: str) -> None:
    """Type ``subject`` into the provider's login page that ``page`` shows, and submit."""
    form = page.locator(_DEV_LOGIN_FORM)
    await form.locator(f"input[name={DEV_LOGIN_FIELD}]").fill(subject)
    await form.locator("button[type=submit]").click()


@dataclass
class Browser:
    """One user agent: its own cookie jar for the API, a plain client for the provider."""

    api: httpx.AsyncClient
    provider: httpx.AsyncClient

    async def start_login(self, return_to: str | None = None) -> httpx.Response:
        params = {"return_to": return_to} if return_to else {}
        return await self.api.get("/v1/auth/login", params=params)

    async def authorize(self, authorize_url: str, subject: str) -> str:
        """Log in at the provider; returns our callback URL it redirects to."""
        page = await self.provider.get(authorize_url)
        assert page.status_code == 200, page.text[:500]
        action, form = dev_login(authorize_url, page.text, subject)
        answer = await self.provider.post(action, data=form)
        assert answer.status_code in (302, 303), answer.text[:500]
        return answer.headers["location"]

    async def callback(self, callback_url: str) -> httpx.Response:
        parts = urlsplit(callback_url)
        assert parts.path == "/v1/auth/callback", callback_url
        return await self.api.get(f"{parts.path}?{parts.query}")

    async def login(self, subject: str, return_to: str | None = None) -> httpx.Response:
        """The whole flow; returns the callback's answer."""
        started = await self.start_login(return_to)
        assert started.status_code == 303, started.text
        return await self.callback(await self.authorize(started.headers["location"], subject))

    async def csrf(self) -> str:
        me = await self.api.get("/v1/me")
        assert me.status_code == 200, me.text
        token = me.json()["csrf_token"]
        assert isinstance(token, str)
        return token


class Forms(HTMLParser):
    """A page's forms: each one's action and its inputs' names and values."""

    def __init__(self, page: str) -> None:
        super().__init__()
        self.forms: list[tuple[str | None, dict[str, str]]] = []
        self.feed(page)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "form":
            self.forms.append((values.get("action"), {}))
        elif tag == "input" and self.forms and values.get("name"):
            self.forms[-1][1][str(values["name"])] = values.get("value") or ""


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


async def verification_link(outbox: MailOutbox, email: str) -> str:
    """The link in the newest verification mail to ``email`` (the embedded outbox)."""
    mails = await outbox.recent(email)
    assert mails, f"no mail to {email}"
    found = re.search(r"https?://\S+/v1/auth/verify-email\?token=\S+", mails[0].body)
    assert found, mails[0].body
    return found.group(0)

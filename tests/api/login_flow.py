"""A browser for the login tests: follows the OIDC redirects between our API
(in-process, over ASGI) and a real identity provider (over HTTP on loopback)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlsplit

import httpx

from store.outbox import MailOutbox


@dataclass
class Browser:
    """One user agent: its own cookie jar for the API, a plain client for the provider."""

    api: httpx.AsyncClient
    provider: httpx.AsyncClient
    login_form: Mapping[str, str] = field(default_factory=dict)

    async def start_login(self, return_to: str | None = None) -> httpx.Response:
        params = {"return_to": return_to} if return_to else {}
        return await self.api.get("/v1/auth/login", params=params)

    async def authorize(self, authorize_url: str, form: Mapping[str, str]) -> str:
        """Log in at the provider; returns our callback URL it redirects to."""
        page = await self.provider.get(authorize_url)
        assert page.status_code == 200, page.text[:500]
        answer = await self.provider.post(authorize_url, data=dict(form))
        assert answer.status_code in (302, 303), answer.text[:500]
        return answer.headers["location"]

    async def callback(self, callback_url: str) -> httpx.Response:
        parts = urlsplit(callback_url)
        assert parts.path == "/v1/auth/callback", callback_url
        return await self.api.get(f"{parts.path}?{parts.query}")

    async def login(self, form: Mapping[str, str], return_to: str | None = None) -> httpx.Response:
        """The whole flow; returns the callback's answer."""
        started = await self.start_login(return_to)
        assert started.status_code == 303, started.text
        return await self.callback(await self.authorize(started.headers["location"], form))

    async def csrf(self) -> str:
        me = await self.api.get("/v1/me")
        assert me.status_code == 200, me.text
        token = me.json()["csrf_token"]
        assert isinstance(token, str)
        return token


class LoginForm(HTMLParser):
    """The login page's form: its action and hidden fields (attribute values unescaped)."""

    def __init__(self, page: str) -> None:
        super().__init__()
        self.action: str | None = None
        self.fields: dict[str, str] = {}
        self.feed(page)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "form":
            self.action = values.get("action")
        elif tag == "input" and values.get("type") == "hidden":
            self.fields[str(values["name"])] = str(values["value"])


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


async def verification_link(outbox: MailOutbox, email: str) -> str:
    """The link in the newest verification mail to ``email`` (the embedded outbox)."""
    mails = await outbox.recent(email)
    assert mails, f"no mail to {email}"
    found = re.search(r"https?://\S+/v1/auth/verify-email\?token=\S+", mails[0].body)
    assert found, mails[0].body
    return found.group(0)

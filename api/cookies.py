"""Our cookies: their names, reading exactly one of them, and spotting an app's attempt
to plant one.

Browsers do not separate cookies by port, and a page of the same site may write
cookies for the whole host from script. Deployed apps are therefore served from
another site (``MB_APPS_HOST``); these checks are the second line: the gateway
never lets an app's ``Set-Cookie`` pass for one of ours, and the API refuses a
request that carries one of our cookies twice instead of guessing which is real
(Starlette keeps the last, which a planted cookie can arrange to be).
"""

from __future__ import annotations

from fastapi import HTTPException
from starlette.requests import HTTPConnection

SESSION_COOKIE = "mb_session"
LOGIN_COOKIE = "mb_login"
_OUR_NAMES = (SESSION_COOKIE, LOGIN_COOKIE)
_PREFIXES = ("__host-", "__secure-")


def is_ours(name: str) -> bool:
    """Whether a cookie name is, or could be taken for, one of ours: any letter case,
    with or without a ``__Host-`` / ``__Secure-`` prefix."""
    bare = name.strip().casefold()
    for prefix in _PREFIXES:
        bare = bare.removeprefix(prefix)
    return bare in _OUR_NAMES


def plants_ours(set_cookie: str) -> bool:
    """Whether an app's ``Set-Cookie`` value could put one of our cookies in a browser:
    one of our names, a nameless cookie (a browser sends its bare value, which may read
    ``mb_session=...``), or a value that starts with one of our names."""
    name, equals, value = set_cookie.split(";", 1)[0].partition("=")
    if not equals or not name.strip():
        return True
    return is_ours(name) or value.strip().casefold().startswith(_OUR_NAMES)


def cookie_pairs(request: HTTPConnection) -> list[tuple[str, str]]:
    """Every (name, value) of every ``Cookie`` header, in order, duplicates kept."""
    pairs = []
    for header in request.headers.getlist("cookie"):
        for chunk in header.split(";"):
            name, equals, value = chunk.partition("=")
            if equals:
                pairs.append((name.strip(), value.strip()))
            elif chunk.strip():
                pairs.append(("", chunk.strip()))
    return pairs


def one_cookie(request: HTTPConnection, name: str) -> str | None:
    """The value of cookie ``name``; None when absent; 400 when the request carries it
    more than once (a page of the same site can add a second one, which the browser
    sends alongside ours, and we cannot tell which is real)."""
    values = [value for key, value in cookie_pairs(request) if key == name]
    if len(values) > 1:
        raise HTTPException(
            400,
            f"this request carries {len(values)} {name} cookies, so none is trusted: clear"
            " this site's cookies and log in again (a page on the same host may have set one)",
        )
    return values[0] if values else None

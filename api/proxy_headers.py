"""Headers our reverse proxies (the apps gateway, the operators' origin) never pass on."""

from __future__ import annotations

HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)
# Our own credentials (a proxied server never sees them) and forwarding headers a client
# wrote (a proxy sets its own, from the peer uvicorn resolved).
PRIVATE_REQUEST_HEADERS = frozenset(
    {
        "authorization",
        "host",
        "cookie",
        "forwarded",
        "x-forwarded-for",
        "x-forwarded-host",
        "x-forwarded-proto",
        "x-forwarded-prefix",
        "x-real-ip",
    }
)

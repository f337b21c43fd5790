"""Refuse a request whose body framing is ambiguous, before any route sees it.

A request with both ``Content-Length`` and ``Transfer-Encoding`` may be read one
way by a front proxy and another way by us (request smuggling). uvicorn's h11
follows ``Transfer-Encoding`` and keeps the length header, which the gateway would
then forward beside a re-framed body. RFC 9112 (6.1) lets a server reject such a
request, and requires it to close the connection afterwards: we do both.
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Receive, Scope, Send

_FRAMING = (b"content-length", b"transfer-encoding")


class RejectAmbiguousFraming:
    """400 with ``Connection: close`` for a request carrying both framing headers."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            present = {name for name, _ in scope["headers"] if name in _FRAMING}
            if len(present) == len(_FRAMING):
                await _refuse(send)
                return
        await self.app(scope, receive, send)


async def _refuse(send: Send) -> None:
    body = json.dumps(
        {"detail": "a request may not carry both Content-Length and Transfer-Encoding"}
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 400,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", b"%d" % len(body)),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})

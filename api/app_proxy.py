"""Proxying one request to an app, written once for the front gateway and the host gateways.

What is forwarded: the method, path, query and body, and the client's headers
minus hop-by-hop ones, our credentials (``Authorization``, our session and login
cookies) and any forwarding header the client wrote; the proxy adds its own
``X-Forwarded-*``. What comes back: the status, body and headers, minus any
``Set-Cookie`` that could pass for one of ours. A slow upstream is a 504, an
unreachable one a 502, each with a reason. The app around the route (security
headers, framing checks, metrics, JSON errors) is ``proxy_app``.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import quote

import httpx
from fastapi import APIRouter, FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response, StreamingResponse
from starlette.background import BackgroundTask

from api.cookies import is_ours, plants_ours
from api.deps import AppId
from api.framing import RejectAmbiguousFraming
from api.proxy_headers import HOP_BY_HOP, PRIVATE_REQUEST_HEADERS
from api.security_headers import install_security_headers
from monitoring.http_metrics import HttpMetrics, MetricsMiddleware
from schemas.settings import Settings

METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


class UpstreamPool:
    """Keep-alive HTTP clients by upstream (bounded, oldest closed first)."""

    def __init__(self, size: int = 128, timeout_s: float = 30.0) -> None:
        self._clients: OrderedDict[str, httpx.AsyncClient] = OrderedDict()
        self._size = size
        self.timeout = httpx.Timeout(timeout_s, connect=5.0)

    async def client(
        self, key: str, make: Callable[[httpx.Timeout], httpx.AsyncClient]
    ) -> httpx.AsyncClient:
        """The client for ``key``, made by ``make`` the first time."""
        client = self._clients.get(key)
        if client is None:
            client = make(self.timeout)
            self._clients[key] = client
            while len(self._clients) > self._size:
                _, oldest = self._clients.popitem(last=False)
                await oldest.aclose()
        else:
            self._clients.move_to_end(key)
        return client

    async def socket(self, socket_path: str) -> httpx.AsyncClient:
        """The client for an instance's unix socket."""

        def make(timeout: httpx.Timeout) -> httpx.AsyncClient:
            return httpx.AsyncClient(
                transport=httpx.AsyncHTTPTransport(uds=socket_path, retries=1),
                timeout=timeout,
                base_url="http://app",
                trust_env=False,
            )

        return await self.client(f"unix:{socket_path}", make)

    async def close(self) -> None:
        """Close every client."""
        while self._clients:
            _, client = self._clients.popitem()
            await client.aclose()


class Misdirected(Exception):
    """A host gateway answered 421: the app is live on another host now (nothing reached
    an app; the answer is closed)."""


async def forward(
    request: Request,
    client: httpx.AsyncClient,
    path: str,
    *,
    forwarded: Mapping[str, str],
    what: str,
    extensions: dict[str, Any] | None = None,
    misdirected: bool = False,
) -> Response:
    """Send ``request`` to ``path`` on ``client`` with the ``forwarded`` headers and stream
    the answer back; ``what`` names the upstream in a 502 or 504's reason. With
    ``misdirected`` (the upstream is a host gateway), a 421 raises ``Misdirected``."""
    headers = {
        k: v
        for k, v in request.headers.items()
        if k.lower() not in HOP_BY_HOP and k.lower() not in PRIVATE_REQUEST_HEADERS
    }
    app_cookies = _without_our_cookies(request.headers.get("cookie", ""))
    if app_cookies:
        headers["cookie"] = app_cookies
    headers.update(forwarded)
    upstream = client.build_request(
        request.method,
        path,
        params=request.query_params,
        headers=headers,
        # A request without a body is sent without one (not as an empty chunked body).
        content=request.stream() if has_body(request) else None,
        extensions=extensions,
    )
    try:
        response = await client.send(upstream, stream=True)
    except httpx.TimeoutException:
        raise HTTPException(504, f"{what} did not answer in time") from None
    except httpx.TransportError:
        raise HTTPException(502, f"{what} is not reachable") from None
    if misdirected and response.status_code == 421:
        await response.aclose()
        raise Misdirected(what)
    answer = StreamingResponse(
        response.aiter_raw(),
        status_code=response.status_code,
        headers={
            k: v
            for k, v in response.headers.items()
            if k.lower() not in HOP_BY_HOP and k.lower() != "set-cookie"
        },
        background=BackgroundTask(response.aclose),
    )
    for name, value in response.headers.multi_items():
        if name.lower() == "set-cookie" and not plants_ours(value):
            answer.raw_headers.append((b"set-cookie", value.encode("latin-1")))
    return answer


def client_forwarded(request: Request, app_id: str) -> dict[str, str]:
    """The forwarding headers a proxy facing clients writes (from the peer uvicorn
    resolved, never from what the client wrote)."""
    headers = {"x-forwarded-prefix": f"/apps/{app_id}", "x-forwarded-proto": request.url.scheme}
    if request.client is not None:
        headers["x-forwarded-for"] = request.client.host
    return headers


def reencoded(path: str) -> str:
    """A routed (decoded) path made a URL path again for an upstream that routes on it too:
    ``.`` and ``..`` segments stay names and ``?``, ``#``, ``%`` stay in the path, so
    ``/apps/a/..%2F..%2Fapps%2Fb/`` reaches app ``a``, never app ``b`` (with ``a``'s cookies)."""
    return "/".join(
        segment.replace(".", "%2E")
        if segment in (".", "..")
        else quote(segment, safe="!$&'()*+,;=:@")
        for segment in path.split("/")
    )


def has_body(request: Request) -> bool:
    """Whether the request carries a body (which can be sent once: it streams)."""
    return "content-length" in request.headers or "transfer-encoding" in request.headers


def _without_our_cookies(header: str) -> str:
    """The Cookie header minus our session and login cookies."""
    kept = [
        part.strip()
        for part in header.split(";")
        if part.strip() and not is_ours(part.split("=", 1)[0])
    ]
    return "; ".join(kept)


def proxy_app(
    router: APIRouter, settings: Settings, metrics: HttpMetrics, *, server: str
) -> FastAPI:
    """An apps proxy around ``router``'s ``/apps/{app_id}/{path}`` route: the redirect to
    the trailing slash, framing checks, security headers, metrics, JSON errors, a pool of
    upstream clients (``app.state.upstreams``) and ``/healthz``; nothing else."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        await app.state.upstreams.close()

    app = FastAPI(lifespan=lifespan, openapi_url=None, docs_url=None, redoc_url=None)
    app.state.upstreams = UpstreamPool()

    @app.api_route("/apps/{app_id}", methods=METHODS, include_in_schema=False)
    async def app_root(app_id: AppId) -> RedirectResponse:
        """Apps live under a trailing slash so their relative links resolve."""
        return RedirectResponse(f"/apps/{app_id}/", status_code=308)

    app.include_router(router)
    app.add_middleware(RejectAmbiguousFraming)
    install_security_headers(app, settings)
    app.add_middleware(MetricsMiddleware, metrics=metrics, server=server)

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, __: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": "not an app address"}, status_code=422)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> JSONResponse:
        return JSONResponse({"status": "ok"})

    return app

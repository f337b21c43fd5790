"""The gateway: ``/apps/<app_id>/...`` is proxied to the live release's unix socket.

Deployed apps have no network interface; this proxy is their only ingress.
The route is read per request, so a switch takes effect on the next request.

The gateway is its own ASGI app, served on another site than the API
(``MB_APPS_HOST`` / ``MB_APPS_PUBLIC_URL``): an app's scripts must never run
where they could read API responses with a user's session, and cookies an app
sets (by header or by script) must never reach the API. Cookies ignore ports,
so should both share a host anyway, our session and login cookies are removed
from what apps receive, and apps may not set cookies that could pass for ours
(see ``api.cookies``).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import APIRouter, FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response, StreamingResponse
from starlette.background import BackgroundTask

from api.cookies import is_ours, plants_ours
from api.deps import AppId, ServicesDep
from api.framing import RejectAmbiguousFraming
from api.proxy_headers import HOP_BY_HOP, PRIVATE_REQUEST_HEADERS
from api.security_headers import install_security_headers
from api.services import Services
from monitoring.http_metrics import MetricsMiddleware

router = APIRouter(tags=["gateway"])

_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


class UpstreamPool:
    """One keep-alive HTTP client per instance socket (bounded, oldest closed first)."""

    def __init__(self, size: int = 128, timeout_s: float = 30.0) -> None:
        self._clients: OrderedDict[str, httpx.AsyncClient] = OrderedDict()
        self._size = size
        self._timeout = httpx.Timeout(timeout_s, connect=5.0)

    async def client(self, socket_path: str) -> httpx.AsyncClient:
        """The client for ``socket_path``."""
        client = self._clients.get(socket_path)
        if client is None:
            client = httpx.AsyncClient(
                transport=httpx.AsyncHTTPTransport(uds=socket_path, retries=1),
                timeout=self._timeout,
                base_url="http://app",
            )
            self._clients[socket_path] = client
            while len(self._clients) > self._size:
                _, oldest = self._clients.popitem(last=False)
                await oldest.aclose()
        else:
            self._clients.move_to_end(socket_path)
        return client

    async def close(self) -> None:
        """Close every client."""
        while self._clients:
            _, client = self._clients.popitem()
            await client.aclose()


@router.api_route("/apps/{app_id}", methods=_METHODS, include_in_schema=False)
async def app_root(app_id: AppId) -> RedirectResponse:
    """Apps live under a trailing slash so their relative links resolve."""
    return RedirectResponse(f"/apps/{app_id}/", status_code=308)


@router.api_route("/apps/{app_id}/{path:path}", methods=_METHODS, include_in_schema=False)
async def proxy(app_id: AppId, path: str, request: Request, services: ServicesDep) -> Response:
    """Forward the request to the app's live instance and stream the answer back."""
    route = await services.releases.route(app_id)
    if route is None:
        raise HTTPException(404, f"app {app_id!r} has no live release")
    pool: UpstreamPool = request.app.state.upstreams
    client = await pool.client(route.socket_path)
    headers = {
        k: v
        for k, v in request.headers.items()
        if k.lower() not in HOP_BY_HOP and k.lower() not in PRIVATE_REQUEST_HEADERS
    }
    app_cookies = _without_our_cookies(request.headers.get("cookie", ""))
    if app_cookies:
        headers["cookie"] = app_cookies
    headers["x-forwarded-prefix"] = f"/apps/{app_id}"
    headers["x-forwarded-proto"] = request.url.scheme
    if request.client is not None:
        headers["x-forwarded-for"] = request.client.host
    upstream = client.build_request(
        request.method,
        "/" + path,
        params=request.query_params,
        headers=headers,
        # A request without a body is sent without one (not as an empty chunked body).
        content=request.stream() if _has_body(request) else None,
    )
    try:
        response = await client.send(upstream, stream=True)
    except httpx.TimeoutException:
        raise HTTPException(504, f"app {app_id!r} did not answer in time") from None
    except httpx.TransportError:
        raise HTTPException(502, f"app {app_id!r} is not reachable") from None
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


def _has_body(request: Request) -> bool:
    return "content-length" in request.headers or "transfer-encoding" in request.headers


def _without_our_cookies(header: str) -> str:
    """The Cookie header minus our session and login cookies."""
    kept = [
        part.strip()
        for part in header.split(";")
        if part.strip() and not is_ours(part.split("=", 1)[0])
    ]
    return "; ".join(kept)


def create_gateway_app(services: Services) -> FastAPI:
    """The deployed apps' origin: the proxy, security headers, JSON errors, nothing else."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        await app.state.upstreams.close()

    app = FastAPI(lifespan=lifespan, openapi_url=None, docs_url=None, redoc_url=None)
    app.state.services = services
    app.state.upstreams = UpstreamPool()
    app.include_router(router)
    app.add_middleware(RejectAmbiguousFraming)
    install_security_headers(app, services.settings)
    app.add_middleware(MetricsMiddleware, metrics=services.metrics, server="gateway")

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, __: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": "not an app address"}, status_code=422)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> JSONResponse:
        return JSONResponse({"status": "ok"})

    return app

"""A host gateway (``mb host-gateway``): this runtime host's apps, to the front gateway only.

It serves ``/apps/<app_id>/...`` from the unix socket of the live instance when
the route's host is this host (``MB_RUNTIME_HOST``); it never proxies elsewhere.
An app live on another host is a 421 (Misdirected Request: the front gateway read
the route just before a move switched it, and asks again), one with no route a 404.
It listens only over mutual TLS (``api.gateway_tls``): a client must present the
front gateway's certificate.
The front gateway's ``X-Forwarded-For`` and ``-Proto`` are kept (the client it
saw); every other rule is the front gateway's own (``api.app_proxy``).
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI, HTTPException, Request
from fastapi.responses import Response

from api.app_proxy import METHODS, client_forwarded, forward, proxy_app
from api.deps import AppId
from monitoring.http_metrics import HttpMetrics
from schemas.settings import Settings
from store.releases import ReleaseRepository

router = APIRouter(tags=["host-gateway"])

# Written by the front gateway (the only client a host gateway accepts): the client it saw.
_FROM_FRONT = ("x-forwarded-for", "x-forwarded-proto")


@router.api_route("/apps/{app_id}/{path:path}", methods=METHODS, include_in_schema=False)
async def proxy(app_id: AppId, path: str, request: Request) -> Response:
    """Forward the request to this host's live instance of the app."""
    releases: ReleaseRepository = request.app.state.releases
    settings: Settings = request.app.state.settings
    route = await releases.route(app_id)
    if route is None:
        raise HTTPException(404, f"app {app_id!r} is not live on this host")
    if route.host != settings.runtime_host:
        raise HTTPException(421, f"app {app_id!r} is live on another host now")
    forwarded = client_forwarded(request, app_id)
    for name in _FROM_FRONT:
        if name in request.headers:
            forwarded[name] = request.headers[name]
    client = await request.app.state.upstreams.socket(route.socket_path)
    return await forward(request, client, "/" + path, forwarded=forwarded, what=f"app {app_id!r}")


def create_host_gateway_app(
    settings: Settings, releases: ReleaseRepository, metrics: HttpMetrics | None = None
) -> FastAPI:
    """The host gateway's app (serve it with ``FrontOnlyProtocol`` over mutual TLS)."""
    app = proxy_app(router, settings, metrics or HttpMetrics(), server="host-gateway")
    app.state.settings = settings
    app.state.releases = releases
    return app

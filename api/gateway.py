"""The front gateway: ``/apps/<app_id>/...`` is proxied to the host holding the live release.

Deployed apps have no network interface; this proxy is their only ingress.
The route is read per request, so a switch takes effect on the next request.
When the route's host registered a host gateway (``host_gateways``), the request
goes there over mutual TLS (``api.gateway_tls``); otherwise a route on this
host (``MB_RUNTIME_HOST``) goes straight to the instance's unix socket, and a
route on another host is a 502 that says why.

The gateway is its own ASGI app, served on another site than the API
(``MB_APPS_HOST`` / ``MB_APPS_PUBLIC_URL``): an app's scripts must never run
where they could read API responses with a user's session, and cookies an app
sets (by header or by script) must never reach the API. Cookies ignore ports,
so should both share a host anyway, our session and login cookies are removed
from what apps receive, and apps may not set cookies that could pass for ours
(see ``api.cookies`` and ``api.app_proxy``).
"""

from __future__ import annotations

import logging

import httpx
from fastapi import APIRouter, FastAPI, HTTPException, Request
from fastapi.responses import Response

from api.app_proxy import (
    METHODS,
    Misdirected,
    client_forwarded,
    forward,
    has_body,
    proxy_app,
    reencoded,
)
from api.deps import AppId, ServicesDep
from api.gateway_tls import FrontCredentials
from api.services import Services
from store.gateway_ca import GatewayCaError
from store.gateway_certs import host_server_name
from store.host_gateways import HostGatewayRegistry

log = logging.getLogger(__name__)

router = APIRouter(tags=["gateway"])


@router.api_route("/apps/{app_id}/{path:path}", methods=METHODS, include_in_schema=False)
async def proxy(app_id: AppId, path: str, request: Request, services: ServicesDep) -> Response:
    """Forward the request to the app's live instance and stream the answer back. A host
    gateway that no longer holds the app (a move switched the route after it was read
    here) sent it nowhere: a request without a body follows the route once more."""
    try:
        return await _proxy(app_id, path, request, services)
    except Misdirected:
        if has_body(request):
            raise HTTPException(
                421, f"app {app_id!r} moved to another host as this request came: send it again"
            ) from None
    try:
        return await _proxy(app_id, path, request, services)
    except Misdirected:
        raise HTTPException(502, f"app {app_id!r} is moving between hosts: try again") from None


async def _proxy(app_id: str, path: str, request: Request, services: Services) -> Response:
    route = await services.releases.route(app_id)
    if route is None:
        raise HTTPException(404, f"app {app_id!r} has no live release")
    forwarded = client_forwarded(request, app_id)
    gateways: HostGatewayRegistry = request.app.state.host_gateways
    url = await gateways.url(route.host)
    if url is None:
        if route.host != services.settings.runtime_host:
            raise HTTPException(
                502, f"app {app_id!r} is on host {route.host!r}, which has no registered gateway"
            )
        client = await request.app.state.upstreams.socket(route.socket_path)
        what = f"app {app_id!r}"
        return await forward(request, client, "/" + path, forwarded=forwarded, what=what)
    try:
        server_name = host_server_name(route.host)
    except GatewayCaError:
        raise HTTPException(502, f"app {app_id!r} is on a host no gateway can name") from None
    credentials: FrontCredentials = request.app.state.front_credentials
    try:
        context = await credentials.context()
    except (GatewayCaError, OSError, ValueError) as err:
        log.warning("front gateway: no client certificate for host gateways: %s", err)
        raise HTTPException(502, "the front gateway has no usable certificate") from None

    def make(timeout: httpx.Timeout) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            transport=httpx.AsyncHTTPTransport(verify=context, retries=1),
            timeout=timeout,
            base_url=url,
            trust_env=False,
        )

    client = await request.app.state.upstreams.client(
        f"{route.host} {url} {credentials.generation}", make
    )
    return await forward(
        request,
        client,
        f"/apps/{app_id}/{reencoded(path)}",
        forwarded=forwarded,
        what=f"the gateway of host {route.host!r}",
        extensions={"sni_hostname": server_name},
        misdirected=True,
    )


def create_gateway_app(services: Services) -> FastAPI:
    """The deployed apps' origin: the proxy, security headers, JSON errors, nothing else."""
    app = proxy_app(router, services.settings, services.metrics, server="gateway")
    app.state.services = services
    app.state.host_gateways = HostGatewayRegistry(services.db)
    app.state.front_credentials = FrontCredentials(services.settings)
    return app

"""``mb host-gateway``: serve this runtime host's apps to the front gateway.

A process of its own beside the host's workers (it needs PostgreSQL and the
gateway CA, never Temporal), so it can be restarted, scaled and firewalled
apart from them. At start it issues (or renews) its server certificate from the
CA, listens over mutual TLS on ``MB_HOST_GATEWAY_HOST:PORT`` and registers
``MB_HOST_GATEWAY_URL`` for ``MB_RUNTIME_HOST``; every hour it renews the
certificate if due (new connections get it); at stop it withdraws its URL.
"""

from __future__ import annotations

import asyncio
import logging
import ssl

import uvicorn

from api.gateway_tls import FrontOnlyProtocol, host_gateway_context
from api.host_gateway import create_host_gateway_app
from cli.stack import EmbeddedServer
from monitoring.http_metrics import HttpMetrics
from schemas.settings import Settings
from store.db import Database
from store.gateway_certs import host_gateway_files
from store.host_gateways import HostGatewayRegistry
from store.releases import ReleaseRepository

log = logging.getLogger(__name__)

RENEW_CHECK_S = 3600.0


def host_gateway_server(
    settings: Settings, db: Database, context: ssl.SSLContext, metrics: HttpMetrics | None = None
) -> EmbeddedServer:
    """The host gateway's server: mutual TLS with ``context``, the front gateway only."""
    return EmbeddedServer(
        uvicorn.Config(
            create_host_gateway_app(settings, ReleaseRepository(db), metrics),
            host=settings.host_gateway_host,
            port=settings.host_gateway_port,
            http=FrontOnlyProtocol,
            ws="none",
            ssl_context_factory=lambda _config, _default: context,
            # The client is the front gateway; the app reads its forwarding headers itself.
            proxy_headers=False,
            lifespan="on",
            log_level="warning",
        )
    )


async def run_host_gateway(
    settings: Settings,
    db: Database,
    stop: asyncio.Event,
    *,
    ready: asyncio.Event | None = None,
    renew_check_s: float = RENEW_CHECK_S,
) -> None:
    """Serve until ``stop`` is set, registered in ``host_gateways`` while serving."""
    files = await asyncio.to_thread(host_gateway_files, settings)
    context = host_gateway_context(files)
    server = host_gateway_server(settings, db, context)
    serving = asyncio.create_task(server.serve(), name="host-gateway")
    while not server.started:
        if serving.done():
            serving.result()
            raise RuntimeError("the host gateway stopped before it listened")
        await asyncio.sleep(0.02)
    registry = HostGatewayRegistry(db)
    url = settings.host_gateway_base_url
    await registry.register(settings.runtime_host, url)
    log.info("host gateway of %s serving at %s", settings.runtime_host, url)
    if ready is not None:
        ready.set()
    stopped = asyncio.create_task(stop.wait())
    try:
        while not (stopped.done() or serving.done()):
            await asyncio.wait(
                [stopped, serving], timeout=renew_check_s, return_when=asyncio.FIRST_COMPLETED
            )
            if not (stopped.done() or serving.done()):
                renewed = await asyncio.to_thread(host_gateway_files, settings)
                context.load_cert_chain(renewed.certificate, renewed.key)
    finally:
        stopped.cancel()
        await registry.withdraw(settings.runtime_host, url)
        server.should_exit = True
        await serving

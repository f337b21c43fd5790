"""``mb up``: the whole embedded stack in one process tree, under one data directory.

Starts (or connects to) Temporal and PostgreSQL, applies migrations, registers
search attributes, creates the first API token, then runs the workers, the HTTP
API, the codec server, the apps gateway, the operators' origin (the Temporal UI
behind our login) and the Prometheus endpoints until Ctrl-C, and stops everything
it started, in reverse order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import uvicorn
from fastapi import FastAPI
from temporalio.client import Client

from api.app import create_app
from api.codec_server import create_codec_server
from api.gateway import create_gateway_app
from api.operator_ui import create_operator_app
from api.services import Services
from api.tls import server_config
from cli.dev_identity import dev_identity_provider
from cli.endpoints import Endpoints, remove_discovery, write_discovery
from monitoring.http_metrics import HttpMetrics
from monitoring.temporal_metrics import metrics_runtime
from schemas.settings import Settings
from store.audit import AuditLog
from store.base_backups import configured_catalog
from store.db import Database
from store.embedded import EmbeddedPostgres
from store.tokens import TokenRepository
from temporal.client import connect
from temporal.codec import EncryptionCodec
from temporal.converter import payload_codec
from temporal.devserver import DevServer, ensure_port_free
from temporal.search_attributes import ensure_search_attributes
from workers.main import run_workers
from workers.wiring import app_runtime, egress_proxy

log = logging.getLogger(__name__)

LOCAL_USER = "local"


@dataclass
class RunningStack:
    """What a started stack offers to the code running inside it (e.g. the demo)."""

    settings: Settings
    client: Client
    db: Database
    first_token: str | None


class EmbeddedServer(uvicorn.Server):
    """uvicorn without its own signal handling: the process running it owns Ctrl-C."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def wal_archive(settings: Settings) -> Path | None:
    """Where the embedded server archives its WAL (None when backups are off)."""
    catalog = configured_catalog(settings)
    if catalog is None:
        return None
    catalog.prepare()
    return catalog.wal_dir


@asynccontextmanager
async def backends(settings: Settings) -> AsyncIterator[tuple[Client, Database, Endpoints]]:
    """Temporal and PostgreSQL: the configured ones, or embedded ones started here."""
    data = settings.data_path
    async with contextlib.AsyncExitStack() as stack:
        if settings.embedded_database:
            pg = EmbeddedPostgres(data / "postgres", archive_dir=wal_archive(settings))
            database_url = await pg.start()
            stack.push_async_callback(pg.stop)
        else:
            assert settings.database_url is not None
            database_url = settings.database_url.get_secret_value()
        db = Database(database_url)
        await db.open()
        stack.push_async_callback(db.close)
        await db.migrate()

        if settings.embedded_temporal:
            dev = DevServer(
                data / "temporal" / "temporal.sqlite",
                data / "logs" / "temporal.log",
                port=settings.temporal_port,
                ui_port=settings.temporal_ui_port,
                codec_endpoint=settings.operator_codec_url,
            )
            await dev.start()
            stack.push_async_callback(dev.stop)
            target = dev.target
        else:
            target = settings.temporal_target
        client = await connect(settings, target=target, runtime=metrics_runtime(settings))
        await ensure_search_attributes(client)
        yield client, db, Endpoints(temporal_target=target, database_url=database_url)


def operator_codecs(settings: Settings) -> dict[str, EncryptionCodec]:
    """The codec operators decode with, for the configured namespace."""
    # The UI and CLI also send payloads that were never encrypted (search attributes,
    # headers): passing them back unchanged reveals nothing.
    return {settings.temporal_namespace: payload_codec(settings, accept_plaintext=True)}


def codec_server_app(
    settings: Settings, db: Database, metrics: HttpMetrics | None = None
) -> FastAPI:
    """The codec server for the CLI (operators' bearer tokens). Browsers go through the
    operators' origin instead, so no browser origin is allowed here."""
    return create_codec_server(
        operator_codecs(settings),
        TokenRepository(db),
        AuditLog(db),
        operators=settings.operators,
        ui_origins=frozenset(),
        metrics=metrics,
    )


def operator_app(services: Services) -> FastAPI:
    """The operators' origin: the Temporal UI behind our login, with its codec endpoint."""
    return create_operator_app(services, operator_codecs(services.settings))


def metrics_server(metrics: HttpMetrics, settings: Settings) -> EmbeddedServer:
    """The HTTP servers' Prometheus text, plain HTTP on ``MB_METRICS_HOST`` (loopback)."""
    return EmbeddedServer(
        uvicorn.Config(
            metrics.asgi_app(),
            host=settings.metrics_host,
            port=settings.metrics_port,
            log_level="warning",
            lifespan="off",
        )
    )


async def first_token(db: Database) -> str | None:
    """Create the local user's first API token (once per data directory)."""
    tokens = TokenRepository(db)
    await tokens.ensure_user(LOCAL_USER, "Local user")
    if await tokens.has_tokens(LOCAL_USER):
        return None
    return await tokens.issue(LOCAL_USER)


async def run_stack(
    settings: Settings,
    *,
    on_ready: Callable[[RunningStack], Coroutine[None, None, None]] | None = None,
    stop: asyncio.Event | None = None,
) -> None:
    """Run everything until ``stop`` is set (Ctrl-C sets it)."""
    stop = stop or asyncio.Event()
    settings.data_path.mkdir(parents=True, exist_ok=True, mode=0o700)
    ensure_port_free(settings.api_host, settings.api_port, "HTTP API", "MB_API_PORT")
    ensure_port_free(settings.api_host, settings.codec_port, "codec server", "MB_CODEC_PORT")
    ensure_port_free(settings.apps_host, settings.apps_port, "apps gateway", "MB_APPS_PORT")
    ensure_port_free(
        settings.api_host, settings.operator_port, "operators' origin", "MB_OPERATOR_PORT"
    )
    ensure_port_free(settings.metrics_host, settings.metrics_port, "metrics", "MB_METRICS_PORT")
    ensure_port_free(
        settings.metrics_host,
        settings.worker_metrics_port,
        "workers' metrics",
        "MB_WORKER_METRICS_PORT",
    )
    settings, identity = dev_identity_provider(settings)
    if identity is not None:
        ensure_port_free(
            settings.api_host, settings.oidc_dev_port, "dev OIDC provider", "MB_OIDC_DEV_PORT"
        )
    async with backends(settings) as (client, db, endpoints):
        token = await first_token(db)
        write_discovery(settings, endpoints)
        try:
            services = Services.build(settings, db, client)
            api = EmbeddedServer(
                server_config(
                    create_app(services),
                    settings,
                    port=settings.api_port,
                    log_level="warning",
                    lifespan="on",
                )
            )
            codec = EmbeddedServer(
                server_config(
                    codec_server_app(settings, db, services.metrics),
                    settings,
                    port=settings.codec_port,
                    log_level="warning",
                    lifespan="off",
                )
            )
            apps = EmbeddedServer(
                server_config(
                    create_gateway_app(services),
                    settings,
                    host=settings.apps_host,
                    port=settings.apps_port,
                    log_level="warning",
                    lifespan="on",
                )
            )
            operators = EmbeddedServer(
                server_config(
                    operator_app(services),
                    settings,
                    port=settings.operator_port,
                    log_level="warning",
                    lifespan="on",
                )
            )
            named = {
                "api": api,
                "codec-server": codec,
                "apps-gateway": apps,
                "operators": operators,
                "metrics": metrics_server(services.metrics, settings),
            }
            if identity is not None:
                named["dev-oidc"] = EmbeddedServer(identity.server_config())
            servers = list(named.values())
            workers_ready = asyncio.Event()
            tasks = [
                asyncio.create_task(
                    run_workers(client, settings, db, stop, workers_ready), name="workers"
                ),
                *(asyncio.create_task(s.serve(), name=name) for name, s in named.items()),
            ]
            while not (all(s.started for s in servers) and workers_ready.is_set()):
                if any(t.done() for t in tasks):
                    break
                await asyncio.sleep(0.05)
            running = RunningStack(settings=settings, client=client, db=db, first_token=token)
            if on_ready is not None and api.started:
                tasks.append(asyncio.create_task(on_ready(running), name="on-ready"))
            await _until_stopped(stop, tasks)
            for server in servers:
                server.should_exit = True
            stop.set()
            await asyncio.gather(*tasks, return_exceptions=True)
            for task in tasks:
                if not task.cancelled() and task.exception() is not None:
                    raise task.exception()  # type: ignore[misc]
        finally:
            remove_discovery(settings)
            stopped = await app_runtime(settings).stop_all(drain_s=settings.drain_s)
            if stopped:
                log.info("stopped %d app instance(s); `mb up` restarts the live ones", len(stopped))
            await egress_proxy(settings).stop_running()


async def _until_stopped(stop: asyncio.Event, tasks: list[asyncio.Task[None]]) -> None:
    """Wait for Ctrl-C, or for the workers or the API to end (which stops the rest)."""
    waiter = asyncio.create_task(stop.wait())
    watched = [t for t in tasks if t.get_name() != "on-ready"]
    await asyncio.wait([waiter, *watched], return_when=asyncio.FIRST_COMPLETED)
    waiter.cancel()

"""The platform's processes: ``mb up`` runs the whole embedded stack in one process tree;
``mb worker``, ``mb api``, ``mb gateway``, ``mb host-gateway``, ``mb operator-ui`` and
``mb codec-server`` run one part each (production: separate processes), against the
configured or running stack.
Each process serves its metrics as Prometheus text on loopback (``MB_METRICS_PORT`` for
HTTP servers, ``MB_WORKER_METRICS_PORT`` for workers).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import httpx
import typer
import uvicorn
from fastapi import FastAPI
from rich.console import Console

from api.app import create_app
from api.gateway import create_gateway_app
from api.services import Services
from api.tls import server_config, tls_files
from cli import endpoints
from cli.deployments_cli import deploy_with
from cli.endpoints import database
from cli.host_gateway_process import run_host_gateway
from cli.runner import (
    CommandError,
    console,
    load_settings,
    run,
    run_until_signalled,
    setup_logging,
)
from cli.stack import RunningStack, codec_server_app, metrics_server, operator_app, run_stack
from monitoring.sentry import init_sentry
from monitoring.temporal_metrics import metrics_runtime
from schemas.deployment import DeploymentOutcome
from schemas.settings import Settings
from store.db import Database
from store.gateway_certs import host_server_name
from store.key_escrow import backup_escrow_lock, drill_escrow_lock
from store.key_source import (
    check_environment_keys,
    check_key_source,
    refuse_keyless_join,
    would_generate_keys,
)
from store.runtime_hosts import RuntimeHosts
from temporal.client import connect
from temporal.devserver import ensure_port_free
from workers.host_check import prepare_host
from workers.main import run_workers

log = logging.getLogger(__name__)

top_level = typer.Typer()


@top_level.command()
def up(
    demo: Annotated[
        str | None,
        typer.Option(help="after start-up, deploy this prompt and show its progress"),
    ] = None,
    tls: Annotated[
        bool, typer.Option("--tls", help="HTTPS, TLS 1.3 only (self-signed unless MB_TLS_CERT)")
    ] = False,
    exit_after_demo: Annotated[
        bool,
        typer.Option(
            "--exit-after-demo",
            help="stop once the demo app has been fetched over HTTP (exit 1 if it was not)",
        ),
    ] = False,
) -> None:
    """Start the embedded stack (Temporal, PostgreSQL, workers, API) until Ctrl-C."""
    setup_logging()
    settings = load_settings()
    if tls:
        settings = settings.model_copy(update={"tls": True})
    run_until_signalled(
        lambda stop: serve_stack(
            settings, console, stop, demo_prompt=demo, exit_after_demo=exit_after_demo
        )
    )


@top_level.command()
def worker(
    runtime_host: Annotated[
        str | None,
        typer.Option(
            "--runtime-host",
            metavar="NAME",
            help="the runtime host this worker registers and runs apps on (MB_RUNTIME_HOST)",
        ),
    ] = None,
) -> None:
    """Run only the workers (production: one or more per host)."""
    setup_logging()
    settings = load_settings(runtime_host=runtime_host) if runtime_host else load_settings()
    run_until_signalled(lambda stop: serve_workers(settings, stop))


@top_level.command()
def api() -> None:
    """Run only the HTTP API (production: behind a TLS-terminating proxy)."""
    setup_logging()
    run(serve_api(load_settings()))


@top_level.command()
def gateway() -> None:
    """Run only the gateway to deployed apps, on their own origin (MB_APPS_PORT)."""
    setup_logging()
    run(serve_gateway(load_settings()))


@top_level.command("host-gateway")
def host_gateway() -> None:
    """Serve this runtime host's apps to the front gateway only (mutual TLS)."""
    setup_logging()
    settings = load_settings()
    run_until_signalled(lambda stop: serve_host_gateway(settings, stop))


@top_level.command("operator-ui")
def operator_ui() -> None:
    """Run only the operators' origin: the Temporal UI behind our login (MB_OPERATOR_PORT)."""
    setup_logging()
    run(serve_operator_ui(load_settings()))


@top_level.command("codec-server")
def codec_server(
    port: Annotated[int, typer.Option(help="port on MB_API_HOST")] = 8234,
    tls_cert: Annotated[Path | None, typer.Option(help="PEM certificate (HTTPS)")] = None,
    tls_key: Annotated[Path | None, typer.Option(help="PEM private key (HTTPS)")] = None,
) -> None:
    """Serve POST /encode and /decode for operators' bearer tokens (the CLI's codec)."""
    setup_logging()
    run(serve_codec(load_settings(), port=port, tls_cert=tls_cert, tls_key=tls_key))


async def serve_stack(
    settings: Settings,
    console: Console,
    stop: asyncio.Event,
    *,
    demo_prompt: str | None,
    exit_after_demo: bool = False,
) -> int:
    """``mb up``: run the stack; print how to reach it; optionally deploy a demo.

    With ``exit_after_demo`` the stack stops once the demo app has been fetched over
    HTTP from its origin; the exit code says whether it was live and served."""
    if exit_after_demo and demo_prompt is None:
        raise CommandError("--exit-after-demo needs --demo PROMPT")
    started = time.monotonic()
    check_keys(settings)
    init_sentry(settings, "stack")
    await prepare_host(settings, lambda step: console.print(f"  {step}"))
    demo_served = False

    async def ready(stack: RunningStack) -> None:
        s = stack.settings
        console.print(f"[bold green]MicroBuilder is up[/] (data in {s.data_path})")
        console.print(f"  API        {s.api_base_url}   (OpenAPI: {s.api_base_url}/docs)")
        console.print(f"  Apps       {s.apps_base_url}/apps/<app>/   (their own origin)")
        console.print(
            f"  Operators  {s.operator_base_url}   (the Temporal UI, decoded; operators log in)"
        )
        console.print(
            f"  Metrics    http://{s.metrics_host}:{s.metrics_port}/metrics (HTTP servers),"
            f" http://{s.metrics_host}:{s.worker_metrics_port}/metrics (workers, pipeline)"
        )
        console.print(f"  Log in     {s.api_base_url}/v1/auth/login   (identity: {s.oidc_issuer})")
        if not s.smtp_host:
            console.print("  Mail       printed here and kept in the mail_outbox table (no SMTP)")
        if stack.first_token:
            console.print(
                "  API token  [bold]" + stack.first_token + "[/]\n"
                "             shown once: store it now (`mb token create` issues another)"
            )
        if demo_prompt:
            nonlocal demo_served
            try:
                app_id, outcome = await deploy_with(
                    stack.client, stack.db, console, settings, prompt=demo_prompt
                )
                if outcome is DeploymentOutcome.LIVE:
                    console.print(f"demo live {time.monotonic() - started:.0f} s after start")
                    if exit_after_demo:
                        demo_served = await _fetch_app(s, app_id, console)
            except Exception as err:  # the demo must not take the stack down
                console.print(f"[red]demo deployment failed:[/] {err}")
        if exit_after_demo:
            console.print("stopping (--exit-after-demo)")
            stop.set()
            return
        console.print("Press Ctrl-C to stop.")

    await run_stack(settings, on_ready=ready, stop=stop)
    return 0 if demo_served or not exit_after_demo else 1


async def _fetch_app(settings: Settings, app_id: str, console: Console) -> bool:
    """GET the app's page from its own origin, as a visitor would; whether it answered 200."""
    url = f"{settings.apps_base_url}/apps/{app_id}/"
    files = tls_files(settings)
    async with httpx.AsyncClient(verify=str(files[0]) if files else True, timeout=30) as http:
        try:
            page = await http.get(url)
        except httpx.HTTPError as err:
            console.print(f"[red]GET {url} failed:[/] {err}")
            return False
    console.print(f"GET {url} -> {page.status_code} ({len(page.content)} bytes)")
    return page.status_code == 200


async def serve_workers(settings: Settings, stop: asyncio.Event) -> None:
    """``mb worker``: only the workers, against the configured (or running) stack.

    Every key it needs is loaded first; a host that would generate keys of its own is
    first checked against the hosts already registered (it must share theirs)."""
    fresh = would_generate_keys(settings)
    if fresh:
        check_environment_keys(settings)  # nothing generated before the database is asked
    else:
        check_keys(settings, evidence=True)
    init_sentry(settings, "worker")
    await prepare_host(settings, lambda step: log.info("%s", step))
    found = endpoints.resolve(settings)
    db = Database(found.database_url)
    await db.open()
    try:
        if fresh:
            registered = await RuntimeHosts(db).hosts(settings.host_dead_after_s)
            refuse_keyless_join(settings, [h.name for h in registered])
            check_keys(settings, evidence=True)
        client = await connect(
            settings, target=found.temporal_target, runtime=metrics_runtime(settings)
        )
        await run_workers(client, settings, db, stop)
    finally:
        await db.close()


async def serve_api(settings: Settings) -> int:
    """``mb api``: only the HTTP API."""
    return await _serve_alone(settings, create_app, settings.api_port)


async def serve_gateway(settings: Settings) -> int:
    """``mb gateway``: only the deployed apps' origin (the proxy to their sockets)."""
    return await _serve_alone(
        settings, create_gateway_app, settings.apps_port, host=settings.apps_host
    )


async def serve_host_gateway(settings: Settings, stop: asyncio.Event) -> None:
    """``mb host-gateway``: this host's apps, to the front gateway, over mutual TLS."""
    host_server_name(settings.runtime_host)  # before anything else: a name no cert can carry
    check_keys(settings)
    ensure_port_free(
        settings.host_gateway_host,
        settings.host_gateway_port,
        "host gateway",
        "MB_HOST_GATEWAY_PORT",
    )
    async with database(settings) as db:
        await run_host_gateway(settings, db, stop)


async def serve_operator_ui(settings: Settings) -> int:
    """``mb operator-ui``: only the operators' origin, in front of ``MB_TEMPORAL_UI_URL``
    (whose codec endpoint must be ``<this origin>/mb/codec``)."""
    return await _serve_alone(settings, operator_app, settings.operator_port)


async def _serve_alone(
    settings: Settings,
    make_app: Callable[[Services], FastAPI],
    port: int,
    *,
    host: str | None = None,
) -> int:
    check_keys(settings)
    init_sentry(settings, "api")
    ensure_port_free(settings.metrics_host, settings.metrics_port, "metrics", "MB_METRICS_PORT")
    found = endpoints.resolve(settings)
    client = await connect(settings, target=found.temporal_target)
    async with database(settings) as db:
        services = Services.build(settings, db, client)
        server = uvicorn.Server(
            server_config(make_app(services), settings, host=host, port=port, log_level="info")
        )
        metrics = metrics_server(services.metrics, settings)
        serving = asyncio.create_task(metrics.serve())
        try:
            await server.serve()
        finally:
            metrics.should_exit = True
            await serving
    return 0


async def serve_codec(
    settings: Settings, *, port: int, tls_cert: Path | None, tls_key: Path | None
) -> int:
    """``mb codec-server``: decrypted payloads for operators in the Temporal UI and CLI."""
    if (tls_cert is None) != (tls_key is None):
        raise CommandError("give both --tls-cert and --tls-key, or neither")
    if tls_cert is not None:
        settings = settings.model_copy(
            update={"tls": True, "tls_cert": tls_cert, "tls_key": tls_key}
        )
    async with database(settings) as db:
        server = uvicorn.Server(
            server_config(codec_server_app(settings, db), settings, port=port, log_level="info")
        )
        await server.serve()
    return 0


def check_keys(settings: Settings, *, evidence: bool = False) -> None:
    """Refuse to start on a missing, malformed, truncated or unsafely stored key (never
    printed), or on an escrow configuration that would fail the first backup."""
    check_key_source(settings, evidence=evidence)
    backup_escrow_lock(settings)
    drill_escrow_lock(settings)

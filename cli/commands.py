"""What each ``mb`` command does, as async functions (the typer layer only parses/prints)."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Literal

import httpx
import uvicorn
from fastapi import FastAPI
from rich.console import Console
from temporalio.client import Client, WorkflowHistory

from activities.generation import suggest_app_id
from activities.qa.advisory_update import update_advisories
from activities.qa.evidence import EvidenceInvalid, EvidencePayload, EvidenceService
from activities.qa.gate import QAGate
from api.app import create_app
from api.gateway import create_gateway_app
from api.services import Services
from api.tls import server_config, tls_files
from cli import endpoints, progress
from cli.stack import RunningStack, codec_server_app, run_stack
from monitoring.sentry import init_sentry
from pipeline.operations import (
    app_status,
    request_deployment,
    request_rollback,
    submit_review,
)
from runtime.envs import EnvBuilder
from schemas.audit import Actor, AuditAction, AuditEvent, AuditOutcome
from schemas.deployment import (
    AppStatus,
    DeploymentOutcome,
    DeployRequest,
    ReviewDecision,
    RollbackRequest,
    validate_app_id,
    validate_prompt,
)
from schemas.moderation import ModerationResult
from schemas.qa import QAGateReport, QAPolicy
from schemas.settings import Settings
from store.apps import AppRepository
from store.artifacts import ArtifactStore
from store.audit import AuditLog
from store.bundle_cache import BundleCache
from store.bundles import bundle_hash, load_bundle_dir, write_bundle
from store.db import Database
from store.key_escrow import backup_escrow_lock, drill_escrow_lock
from store.key_rings import codec_key_ring, master_key_ring
from store.qa_policy_overrides import QAPolicyOverrides
from store.qa_reports import QAReportRepository
from store.tokens import TokenRepository
from temporal.client import connect
from temporal.converter import payload_codec
from workers.host_check import prepare_host
from workers.main import run_workers
from workers.replay import ReplayOutcome, server_histories
from workers.replay import replay as replay_histories
from workers.wiring import evidence_keys, moderator, openai_client

log = logging.getLogger(__name__)


class CommandError(RuntimeError):
    """A command that cannot do what was asked; the message says why."""


async def temporal(settings: Settings) -> Client:
    """A client for the stack's Temporal."""
    found = endpoints.resolve(settings)
    return await connect(settings, target=found.temporal_target)


@asynccontextmanager
async def database(settings: Settings) -> AsyncIterator[Database]:
    """A small pool on the stack's PostgreSQL."""
    db = Database(endpoints.resolve(settings).database_url, min_size=1, max_size=2)
    try:
        await db.open(timeout_s=10.0)  # a person is waiting: say the database is down sooner
    except BaseException:
        await db.close()  # stop the pool's reconnect attempts
        raise
    try:
        yield db
    finally:
        await db.close()


# --- processes ----------------------------------------------------------------------------


async def up(
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
        console.print(f"  Temporal   UI {s.ui_base_url}")
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


async def worker(settings: Settings, stop: asyncio.Event) -> None:
    """``mb worker``: only the workers, against the configured (or running) stack."""
    check_keys(settings)
    init_sentry(settings, "worker")
    await prepare_host(settings, lambda step: log.info("%s", step))
    found = endpoints.resolve(settings)
    client = await connect(settings, target=found.temporal_target)
    db = Database(found.database_url)
    await db.open()
    try:
        await run_workers(client, settings, db, stop)
    finally:
        await db.close()


async def api(settings: Settings) -> int:
    """``mb api``: only the HTTP API."""
    return await _serve_alone(settings, create_app, settings.api_port)


async def gateway(settings: Settings) -> int:
    """``mb gateway``: only the deployed apps' origin (the proxy to their sockets)."""
    return await _serve_alone(
        settings, create_gateway_app, settings.apps_port, host=settings.apps_host
    )


async def _serve_alone(
    settings: Settings,
    make_app: Callable[[Services], FastAPI],
    port: int,
    *,
    host: str | None = None,
) -> int:
    check_keys(settings)
    init_sentry(settings, "api")
    found = endpoints.resolve(settings)
    client = await connect(settings, target=found.temporal_target)
    async with database(settings) as db:
        server = uvicorn.Server(
            server_config(
                make_app(Services.build(settings, db, client)),
                settings,
                host=host,
                port=port,
                log_level="info",
            )
        )
        await server.serve()
    return 0


async def codec_server(
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


# --- deployments ----------------------------------------------------------------------


async def deploy(
    settings: Settings,
    console: Console,
    *,
    prompt: str | None,
    app_id: str | None,
    bundle_dir: Path | None,
    owner: str,
    follow: bool,
    qa_policy: QAPolicy | None = None,
) -> int:
    """``mb deploy``: returns 0 when the deployment went live (or was queued, unfollowed)."""
    # Bad input is refused before any backend is reached.
    if prompt is not None:
        validate_prompt(prompt)
    if bundle_dir is not None:
        load_bundle_dir(bundle_dir)
    client = await temporal(settings)
    async with database(settings) as db:
        _, outcome = await deploy_with(
            client,
            db,
            console,
            settings,
            prompt=prompt,
            app_id=app_id,
            bundle_dir=bundle_dir,
            owner=owner,
            follow=follow,
            qa_policy=qa_policy,
        )
    return 0 if outcome in (DeploymentOutcome.LIVE, None) else 1


async def deploy_with(
    client: Client,
    db: Database,
    console: Console,
    settings: Settings,
    *,
    prompt: str | None = None,
    app_id: str | None = None,
    bundle_dir: Path | None = None,
    owner: str = "local",
    follow: bool = True,
    qa_policy: QAPolicy | None = None,
) -> tuple[str, DeploymentOutcome | None]:
    """Validate, store the bundle if any, signal the AppWorkflow, then follow it; the
    app id and the outcome (None when not followed)."""
    bundle = None
    if prompt is not None:
        prompt = validate_prompt(prompt)
    if bundle_dir is not None:
        bundle = load_bundle_dir(bundle_dir)
    app_id = validate_app_id(
        app_id or (suggest_app_id(prompt) if prompt is not None else _slug_for_bundle(bundle_dir))
    )
    if qa_policy is not None and (  # before anything is created
        refused := await QAPolicyOverrides(db, AuditLog(db)).refusal(
            app_id, qa_policy, settings.qa_policy()
        )
    ):
        raise CommandError(refused)
    await AppRepository(db).ensure(app_id, owner)
    digest = None
    if bundle is not None:
        digest = await BundleCache(ArtifactStore(db), settings.data_path / "bundles").put(bundle)
    request = DeployRequest(
        request_id=uuid.uuid4().hex,
        owner_id=owner,
        prompt=prompt,
        bundle_hash=digest,
        qa_policy=qa_policy,
    )
    workflow_id = await request_deployment(
        client, app_id, request, review_timeout_s=settings.review_timeout_s
    )
    ui = f"{settings.ui_base_url}/namespaces/{settings.temporal_namespace}/workflows/{workflow_id}"
    console.print(f"deploying [bold]{app_id}[/] ({workflow_id})")
    if not follow:
        console.print(f"Temporal UI: {ui}")
        return app_id, None
    summary = await progress.follow(client, app_id, request.request_id, workflow_id, console)
    console.print()
    if summary.outcome is DeploymentOutcome.LIVE:
        console.print(f"[bold green]live[/] at {settings.apps_base_url}/apps/{app_id}/")
    else:
        console.print(f"[bold red]{summary.outcome.value}[/]: {summary.message}")
        if summary.outcome is DeploymentOutcome.REJECTED and "review" in summary.message:
            console.print(f"(review with: mb review approve {workflow_id})")
    console.print(f"Temporal UI: {ui}")
    return app_id, summary.outcome


def _slug_for_bundle(bundle_dir: Path | None) -> str:
    if bundle_dir is None:
        raise CommandError("an app id is needed: pass --app")
    return suggest_app_id(bundle_dir.resolve().name.replace("_", " "))


async def status(settings: Settings, app_id: str) -> AppStatus:
    """``mb status``."""
    return await app_status(await temporal(settings), validate_app_id(app_id))


async def rollback(
    settings: Settings,
    console: Console,
    app_id: str,
    *,
    to_version: int | None,
    reason: str,
    wait: bool,
) -> int:
    """``mb rollback``: refuses up front when there is nothing to roll back to."""
    client = await temporal(settings)
    request = RollbackRequest(
        request_id=uuid.uuid4().hex, to_version=to_version, requested_by="cli", reason=reason
    )
    target = await request_rollback(client, validate_app_id(app_id), request)
    console.print(f"rolling {app_id} back to v{target}…")
    if not wait:
        return 0
    for _ in range(600):
        result = next(
            (
                r
                for r in (await app_status(client, app_id)).rollbacks
                if r.request_id == request.request_id
            ),
            None,
        )
        if result is not None and (result.ok or result.message):
            colour = "green" if result.ok else "red"
            console.print(f"[{colour}]{result.message}[/]")
            return 0 if result.ok else 1
        await asyncio.sleep(0.25)
    raise CommandError("the rollback did not finish within 150 s; see `mb status`")


async def review(
    settings: Settings,
    console: Console,
    workflow_id: str,
    decision: Literal["approve", "reject"],
    reviewer: str,
    reason: str,
) -> int:
    """``mb review approve|reject`` (audited with the reviewer and the reason)."""
    await submit_review(
        await temporal(settings),
        workflow_id,
        ReviewDecision(decision=decision, reviewer=reviewer, reason=reason),
    )
    async with database(settings) as db:
        await AuditLog(db).record(
            AuditEvent(
                actor=Actor(user_id=reviewer),
                action=AuditAction.REVIEW_DECIDE,
                resource=f"workflow:{workflow_id}",
                outcome=AuditOutcome.OK,
                detail={"decision": decision, "reason": reason},
            )
        )
    console.print(f"{decision} sent to {workflow_id}")
    return 0


# --- on-call and QA ---------------------------------------------------------------------


async def replay(
    settings: Settings,
    client: Client | None,
    workflow_id: str | None,
    histories: list[WorkflowHistory] | None,
) -> list[ReplayOutcome]:
    """``mb replay``: from files, one workflow id, or everything on the server.

    Histories may be encrypted (decoded with the key ring) or recorded before
    encryption (read as they are): replay only reads, it sends nothing.
    """
    codec = payload_codec(settings, accept_plaintext=True)
    worker_codec = payload_codec(settings)  # decodes (and refuses) as the workers do
    if histories is not None:
        return await replay_histories(histories, codec, worker_codec=worker_codec)
    assert client is not None
    return await replay_histories(
        server_histories(client, workflow_id), codec, worker_codec=worker_codec
    )


async def moderate(settings: Settings, prompt: str) -> ModerationResult:
    """``mb moderate``."""
    return await moderator(settings, openai_client(settings)).moderate(validate_prompt(prompt))


async def qa(settings: Settings, directory: Path) -> QAGateReport:
    """``mb qa DIR``: the whole gate on a local bundle, no Temporal or database needed."""
    bundle = load_bundle_dir(directory)
    digest = bundle_hash(bundle)
    checkout = write_bundle(bundle, settings.data_path / "bundles" / digest)
    gate = QAGate(EnvBuilder(settings.data_path / "envs"), settings)
    return await gate.run_all(checkout, bundle, digest, settings.qa_policy())


async def verify_evidence(settings: Settings, app_id: str, version: int) -> EvidencePayload:
    """``mb evidence verify APP VERSION``: the release's signed QA evidence checks out."""
    async with database(settings) as db:
        reports = QAReportRepository(db)
        row = await reports.evidence_for_release(validate_app_id(app_id), version)
        if row is None:
            raise CommandError(f"{app_id} v{version}: no release with QA evidence")
        service = EvidenceService(reports, ArtifactStore(db), evidence_keys(settings))
        try:
            return await service.verify(row)
        except EvidenceInvalid as err:
            raise CommandError(str(err)) from None


async def update_advisory_db(settings: Settings) -> int:
    """``mb advisories update``: fetch the current OSV PyPI database (where allowed)."""
    return await update_advisories(settings.advisory_url, settings.advisory_path, timeout_s=120)


async def create_token(settings: Settings, user: str, ttl_s: float | None = None) -> str:
    """``mb token create``."""
    async with database(settings) as db:
        tokens = TokenRepository(db)
        await tokens.ensure_user(user, user)
        return await tokens.issue(user, ttl_s=ttl_s)


def check_keys(settings: Settings) -> None:
    """Refuse to start on a malformed, truncated or unsafely stored key (never printed),
    or on an escrow configuration that would fail the first backup."""
    master_key_ring(settings)
    codec_key_ring(settings)
    backup_escrow_lock(settings)
    drill_escrow_lock(settings)

"""An app's deployments: ``mb deploy`` (a prompt or a bundle, through the whole gate,
followed live), ``mb status`` and ``mb rollback``."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from temporalio.client import Client

from activities.generation import suggest_app_id
from cli import progress
from cli.egress_cli import egress_per_host, egress_table
from cli.endpoints import database, temporal
from cli.runner import AppArg, CommandError, JsonFlag, console, fail, load_settings, run
from pipeline.operations import app_releases, app_status, request_deployment, request_rollback
from schemas.deployment import (
    AppStatus,
    DeploymentOutcome,
    DeployRequest,
    RollbackRequest,
    validate_app_id,
    validate_prompt,
)
from schemas.qa import QAPolicy
from schemas.settings import Settings
from store.apps import AppRepository
from store.artifacts import ArtifactStore
from store.audit import AuditLog
from store.bundle_cache import BundleCache
from store.bundles import load_bundle_dir
from store.db import Database
from store.qa_policy_overrides import QAPolicyOverrides
from store.qa_queue import QAQueue

top_level = typer.Typer()


@top_level.command()
def deploy(
    prompt: Annotated[str | None, typer.Argument(help="what the app should do")] = None,
    app_id: Annotated[
        str | None, typer.Option("--app", help="app id (default: from prompt)")
    ] = None,
    bundle: Annotated[
        Path | None, typer.Option(help="deploy a hand-written bundle directory instead")
    ] = None,
    owner: Annotated[str, typer.Option(help="owner user id")] = "local",
    follow: Annotated[bool, typer.Option(help="show live progress until it ends")] = True,
    qa: Annotated[
        str | None,
        typer.Option(help='this deployment\'s QA policy, JSON: {"mutation_threshold": 0.9}'),
    ] = None,
) -> None:
    """Deploy a prompt (or a bundle) through the whole gate; shows progress and the URL."""
    if (prompt is None) == (bundle is None):
        fail("give a PROMPT or --bundle DIR (exactly one)", 2)
    try:
        qa_policy = None if qa is None else QAPolicy.model_validate_json(qa)
    except ValidationError as err:
        fail(f"--qa: {err.errors()[0].get('msg', 'invalid')}")
    run(
        deploy_app(
            load_settings(),
            console,
            prompt=prompt,
            app_id=app_id,
            bundle_dir=bundle,
            owner=owner,
            follow=follow,
            qa_policy=qa_policy,
        )
    )


@top_level.command()
def status(
    app_id: AppArg,
    as_json: JsonFlag = False,
) -> None:
    """Show an app's live release, running deployment and recent history."""

    async def main() -> int:
        settings = load_settings()
        status_ = await fetch_status(settings, app_id)
        if as_json:
            console.print_json(status_.model_dump_json())
            return 0
        live = status_.live
        console.print(
            f"[bold]{app_id}[/] live: "
            + (
                f"[green]v{live.version}[/] ({live.instance_id} on {escape(live.host)})"
                if live
                else "[red]none[/]"
            )
        )
        releases = Table("release", "host", "instance", "created")
        for rel in (await app_releases(await temporal(settings), app_id))[-10:]:
            releases.add_row(
                f"v{rel.version}",
                escape(rel.host),
                rel.instance_id,
                f"{rel.created_at:%Y-%m-%d %H:%M}",
            )
        console.print(releases)
        table = Table("deployment", "version", "outcome", "message")
        for d in status_.deployments[-10:]:
            table.add_row(
                d.deployment_id, f"v{d.version}" if d.version else "-", d.outcome.value, d.message
            )
        console.print(table)
        if (repaired := progress.attempts_table(status_.deployments[-10:])) is not None:
            console.print(repaired)
        for r in status_.rollbacks[-5:]:
            console.print(f"rollback {r.request_id}: {'ok' if r.ok else 'refused'} — {r.message}")
        console.print(egress_table(await egress_per_host(load_settings(), app_id)))
        return 0

    run(main())


@top_level.command()
def rollback(
    app_id: AppArg,
    to: Annotated[int | None, typer.Option("--to", help="version (default: the previous)")] = None,
    reason: Annotated[str, typer.Option(help="why (recorded)")] = "",
    wait: Annotated[bool, typer.Option(help="wait until the rollback is done")] = True,
) -> None:
    """Roll an app back to its previous release (or to --to VERSION)."""
    run(roll_back(load_settings(), console, app_id, to_version=to, reason=reason, wait=wait))


async def deploy_app(
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
    ui = settings.workflow_ui_url(workflow_id)
    console.print(f"deploying [bold]{app_id}[/] ({workflow_id})")
    if not follow:
        console.print(f"Temporal UI: {ui}")
        return app_id, None
    queue = QAQueue(db)
    summary = await progress.follow(
        client,
        app_id,
        request.request_id,
        workflow_id,
        console,
        queue_position=lambda: queue.position(app_id, request.request_id),
    )
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


async def fetch_status(settings: Settings, app_id: str) -> AppStatus:
    """``mb status``."""
    return await app_status(await temporal(settings), validate_app_id(app_id))


async def roll_back(
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

"""Operators' commands: ``mb incidents``, ``mb alerts``, ``mb users reinstate``,
``mb privacy export``, ``mb privacy erase`` and ``mb token create`` (reading users' data,
erasing it and lifting a suspension are audited, as through the API)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from temporalio.exceptions import WorkflowAlreadyStartedError

from cli.endpoints import database, temporal
from cli.runner import (
    CommandError,
    JsonFlag,
    console,
    err_console,
    fail,
    load_settings,
    run,
    show_rows,
)
from pipeline.privacy import start_erasure
from schemas.anomalies import Alert
from schemas.audit import Actor, AuditAction, AuditEvent, AuditOutcome
from schemas.privacy import ErasureProgress, ErasureResult, ExportInput, ExportResult
from schemas.settings import Settings
from store.anomalies import AlertLog
from store.artifacts import ArtifactStore
from store.audit import AuditLog
from store.egress import EgressRecords
from store.incidents import Incident, IncidentLog
from store.tokens import TokenRepository
from store.users import UserRepository
from temporal import names

top_level = typer.Typer()
users_app = typer.Typer(help="Accounts: reinstate a suspended user.")
privacy_app = typer.Typer(help="Privacy rights: export or erase a user's data.")
token_app = typer.Typer(help="API bearer tokens.")


@top_level.command("incidents")
def incidents_list(
    app_id: Annotated[str | None, typer.Option("--app", help="one app only")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 50,
    as_json: JsonFlag = False,
) -> None:
    """Rollbacks (by hand or automatic), newest first: what, when, why, who."""

    async def main() -> int:
        return show_rows(
            await incidents(load_settings(), app_id=app_id, limit=limit),
            as_json=as_json,
            empty="no incidents",
            line=lambda row: (
                f"{row.at:%Y-%m-%d %H:%M}  {row.kind:<18}  {row.app_id}"
                f"  v{row.from_version} -> v{row.to_version}  by {escape(row.actor)}"
                f"  ({escape(row.reason)})"
            ),
        )

    run(main())


@top_level.command("alerts")
def alerts_list(
    rule: Annotated[str | None, typer.Option(help="e.g. failed_logins")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 50,
    as_json: JsonFlag = False,
) -> None:
    """Alerts raised by the anomaly rules, newest first."""

    async def main() -> int:
        settings = load_settings()
        shown = show_rows(
            await alerts(settings, rule=rule, limit=limit),
            as_json=as_json,
            empty="no alerts",
            line=lambda row: (
                f"#{row.id}  {row.at:%Y-%m-%d %H:%M}  {row.rule:<18}  {escape(row.summary)}"
            ),
        )
        if not as_json and rule is None:
            async with database(settings) as db:
                refused = await EgressRecords(db).refusals(limit=10)
            if refused:
                console.print("latest egress refusals (mb egress refusals for more):")
            for r in refused:
                console.print(
                    f"  {r.at:%Y-%m-%d %H:%M:%S}  {r.app_id} v{r.version}"
                    f"  {escape(r.target)}:{r.port}  {r.reason}"
                )
        return shown

    run(main())


@users_app.command("reinstate")
def users_reinstate(
    user_id: Annotated[str, typer.Argument(metavar="USER")],
    reason: Annotated[str, typer.Option(help="why (audited)")],
    operator: Annotated[str, typer.Option(help="who decides (audited)")] = "operator",
) -> None:
    """Let a user the blocked-prompt rule suspended deploy again."""

    async def main() -> int:
        if not await reinstate(load_settings(), user_id, operator=operator, reason=reason):
            fail(f"user {user_id} is not suspended")
        console.print(f"{user_id} may deploy again")
        return 0

    run(main())


@privacy_app.command("export")
def privacy_export(
    user_id: Annotated[str, typer.Argument(metavar="USER")],
    out: Annotated[Path, typer.Option("--out", help="where to write the zip")],
    operator: Annotated[
        str, typer.Option(help="who asks (audited, told to the user)")
    ] = "operator",
) -> None:
    """Everything held about a user, as a zip (GDPR art. 15 / CCPA right to know)."""

    async def main() -> int:
        size = await export_user(load_settings(), user_id, operator=f"operator:{operator}", out=out)
        console.print(f"wrote {out} ({size} bytes)")
        return 0

    run(main())


@privacy_app.command("erase")
def privacy_erase(
    user_id: Annotated[str, typer.Argument(metavar="USER")],
    operator: Annotated[str, typer.Option(help="who asks (audited)")] = "operator",
    reason: Annotated[str, typer.Option(help="why (e.g. the ticket of the request)")] = "",
    yes: Annotated[bool, typer.Option("--yes", help="do not ask for confirmation")] = False,
) -> None:
    """Erase a user (GDPR art. 17 / CCPA right to delete): apps offline, secrets
    crypto-shredded, rows deleted, logs pseudonymised, workflow histories deleted."""
    if not yes and not typer.confirm(f"Erase {user_id} and all their data for good?"):
        fail("not erased", 1)

    def show(progress: ErasureProgress) -> None:
        apps = f" ({progress.apps_retired}/{progress.apps_total} apps offline)"
        err_console.print(f"  {progress.step}{apps if progress.apps_total else ''}")

    async def main() -> int:
        result = await erase_user(
            load_settings(),
            user_id,
            operator=f"operator:{operator}",
            reason=reason,
            on_progress=show,
        )
        rows = ", ".join(f"{k} {v}" for k, v in sorted(result.erased.items()) if v)
        console.print(
            f"erased {user_id}: key shredded={result.key_shredded},"
            f" histories deleted={result.histories_deleted}, notified={result.notified}"
        )
        console.print(f"rows: {rows or 'none'}")
        return 0

    run(main())


@token_app.command("create")
def token_create(
    user: Annotated[str, typer.Option(help="user id")] = "local",
    ttl: Annotated[float | None, typer.Option(help="expire after this many seconds", min=1)] = None,
) -> None:
    """Issue a new API token (shown once; only its hash is stored)."""

    async def main() -> int:
        token = await create_token(load_settings(), user, ttl)
        console.print(f"API token for {user} (shown once, store it now):\n{token}")
        return 0

    run(main())


async def incidents(settings: Settings, *, app_id: str | None, limit: int) -> list[Incident]:
    """Rollbacks and other incidents, newest first."""
    async with database(settings) as db:
        return await IncidentLog(db).search(app_id=app_id, limit=limit)


async def alerts(settings: Settings, *, rule: str | None, limit: int) -> list[Alert]:
    """Anomaly alerts, newest first."""
    async with database(settings) as db:
        return await AlertLog(db).search(rule=rule, limit=limit)


async def reinstate(settings: Settings, user_id: str, *, operator: str, reason: str) -> bool:
    """Lift a suspension (audited); False if the user was not suspended."""
    async with database(settings) as db:
        if not await UserRepository(db).reinstate(user_id):
            return False
        await AuditLog(db).record(
            AuditEvent(
                actor=Actor(user_id=operator),
                action=AuditAction.USER_REINSTATE,
                resource=f"user:{user_id}",
                outcome=AuditOutcome.OK,
                detail={"reason": reason},
            )
        )
    return True


async def export_user(settings: Settings, user_id: str, *, operator: str, out: Path) -> int:
    """Run PrivacyExportWorkflow for ``user_id`` (audited under ``operator``) and write
    the archive to ``out``; returns its size."""
    client = await temporal(settings)
    export_id = uuid.uuid4().hex[:24]
    async with database(settings) as db:
        if await UserRepository(db).get(user_id) is None:
            raise CommandError(f"user {user_id} not found")
        await AuditLog(db).record(
            AuditEvent(
                actor=Actor(user_id=operator),
                action=AuditAction.PRIVACY_EXPORT,
                resource=f"user:{user_id}",
                outcome=AuditOutcome.OK,
                detail={"export_id": export_id},
            )
        )
        try:
            result: ExportResult = await client.execute_workflow(
                names.PRIVACY_EXPORT_WORKFLOW_TYPE,
                ExportInput(user_id=user_id, export_id=export_id, requested_by=operator),
                id=names.privacy_export_workflow_id(user_id),
                task_queue=names.PIPELINE_TASK_QUEUE,
                result_type=ExportResult,
                memo={"export_id": export_id},
            )
        except WorkflowAlreadyStartedError:
            raise CommandError(
                f"an export of {user_id} is being built right now; retry in a minute"
            ) from None
        data = await ArtifactStore(db).get(result.sha256)
    out.write_bytes(data)
    return len(data)


async def erase_user(
    settings: Settings,
    user_id: str,
    *,
    operator: str,
    reason: str,
    on_progress: Callable[[ErasureProgress], None],
) -> ErasureResult:
    """Run PrivacyErasureWorkflow for ``user_id`` (or join the running one) and wait,
    reporting each step; the request is audited under ``operator`` by its first step."""
    client = await temporal(settings)
    async with database(settings) as db:
        if await UserRepository(db).get(user_id) is None:
            raise CommandError(f"user {user_id} not found")
    handle = await start_erasure(client, user_id, requested_by=operator, reason=reason)
    result = asyncio.ensure_future(handle.result())
    seen: ErasureProgress | None = None
    while not result.done():
        progress = await handle.query("progress", result_type=ErasureProgress)
        if progress != seen:
            on_progress(progress)
            seen = progress
        await asyncio.wait([result], timeout=0.5)
    return await result


async def create_token(settings: Settings, user: str, ttl_s: float | None = None) -> str:
    """``mb token create``."""
    async with database(settings) as db:
        tokens = TokenRepository(db)
        await tokens.ensure_user(user, user)
        return await tokens.issue(user, ttl_s=ttl_s)

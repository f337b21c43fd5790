"""Egress for operators and owners: ``mb egress review|approve|reject|refusals|show``.

Approving a declared ``host:port`` lets every release of that app that declares
it reach it through the host's egress proxy (decisions audited, as through the
API); ``show`` is an app's egress per host, as ``mb status`` prints it.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from cli.endpoints import database
from cli.runner import JsonFlag, console, fail, load_settings, run, show_rows
from schemas.audit import Actor
from schemas.settings import Settings
from store.apps import AppRepository
from store.audit import AuditLog
from store.egress import Decision, EgressApprovals, EgressHostUse, EgressRecords

egress_app = typer.Typer(help="Apps' egress: the review queue, decisions, refusals, use.")

AppArg = Annotated[str, typer.Argument(metavar="APP")]
TargetArg = Annotated[str, typer.Argument(metavar="HOST:PORT")]
ReasonOpt = Annotated[str, typer.Option(help="why (audited)")]
OperatorOpt = Annotated[str, typer.Option(help="who decides (audited)")]


@egress_app.command("review")
def egress_review(as_json: JsonFlag = False) -> None:
    """Declared hosts waiting for an operator's decision, oldest first."""

    async def main() -> int:
        async with database(load_settings()) as db:
            pending = await EgressApprovals(db, AuditLog(db)).pending()
        return show_rows(
            pending,
            as_json=as_json,
            empty="no egress waits for a decision",
            line=lambda r: f"{r.requested_at:%Y-%m-%d %H:%M}  {r.app_id}  v{r.version}  {r.target}",
        )

    run(main())


@egress_app.command("approve")
def egress_approve(
    app_id: AppArg, target: TargetArg, reason: ReasonOpt, operator: OperatorOpt = "operator"
) -> None:
    """Let the app reach HOST:PORT (every release of it that declares it)."""
    run(decide(load_settings(), app_id, target, "approve", reason=reason, operator=operator))


@egress_app.command("reject")
def egress_reject(
    app_id: AppArg, target: TargetArg, reason: ReasonOpt, operator: OperatorOpt = "operator"
) -> None:
    """Keep the app from reaching HOST:PORT (its requests are refused and audited)."""
    run(decide(load_settings(), app_id, target, "reject", reason=reason, operator=operator))


@egress_app.command("refusals")
def egress_refusals(
    app_id: Annotated[str | None, typer.Option("--app", help="one app only")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 50,
    as_json: JsonFlag = False,
) -> None:
    """What the egress proxies refused (app, host, port, reason), newest first."""

    async def main() -> int:
        async with database(load_settings()) as db:
            rows = await EgressRecords(db).refusals(app_id=app_id, limit=limit)
        return show_rows(
            rows,
            as_json=as_json,
            empty="no egress refused",
            line=lambda r: (
                f"{r.at:%Y-%m-%d %H:%M:%S}  {r.app_id} v{r.version}  "
                f"{escape(r.target)}:{r.port}  {r.reason}  {escape(r.detail)}"
            ),
        )

    run(main())


@egress_app.command("show")
def egress_show(app_id: AppArg, as_json: JsonFlag = False) -> None:
    """An app's egress per host: connections, bytes each way, refusals."""

    async def main() -> int:
        uses = await egress_per_host(load_settings(), app_id)
        if as_json:
            return show_rows(uses, as_json=True, empty="", line=str)
        console.print(egress_table(uses))
        return 0

    run(main())


async def decide(
    settings: Settings, app_id: str, target: str, decision: Decision, *, reason: str, operator: str
) -> int:
    """Record an operator's decision (audited)."""
    async with database(settings) as db:
        if await AppRepository(db).owner(app_id) is None:
            fail(f"app {app_id!r} not found")
        try:
            await EgressApprovals(db, AuditLog(db)).decide(
                app_id, target, decision, reason=reason, actor=Actor(user_id=operator)
            )
        except ValueError as exc:
            fail(str(exc))
    console.print(f"{app_id}: {target} {decision}d (running instances within a minute)")
    return 0


async def egress_per_host(settings: Settings, app_id: str) -> list[EgressHostUse]:
    """The app's egress per host (``mb status``, ``mb egress show``)."""
    async with database(settings) as db:
        return await EgressRecords(db).per_host(app_id)


def egress_table(uses: list[EgressHostUse]) -> Table | str:
    """Egress per host as a table (or a line saying there was none)."""
    if not uses:
        return "egress: none recorded"
    table = Table("egress host", "port", "connections", "bytes out", "bytes in", "refused")
    for u in uses:
        table.add_row(
            escape(u.host),
            str(u.port),
            str(u.connections),
            str(u.bytes_up),
            str(u.bytes_down),
            str(u.refused),
        )
    return table

"""Prompts moderation held back: ``mb review list|approve|reject`` (the queue of flagged
deployments and the decision on one) and ``mb moderation list`` (the log of blocked and
flagged prompts). Reading users' prompts and deciding on them are audited, as through
the API."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Literal

import typer
from rich.console import Console
from rich.markup import escape

from cli.endpoints import database, temporal
from cli.runner import JsonFlag, console, fail, load_settings, run, show_rows
from pipeline.operations import submit_review
from pipeline.review_queue import awaiting_egress_approval, awaiting_review
from schemas.audit import Actor, AuditAction, AuditEvent, AuditOutcome
from schemas.deployment import ReviewDecision
from schemas.moderation import ReviewItem
from schemas.settings import Settings
from store.audit import AuditLog
from store.egress import EgressApprovals
from store.moderation_log import ModerationLog, ModerationLogEntry

review_app = typer.Typer(help="Approve or reject a deployment flagged by moderation.")
moderation_app = typer.Typer(help="The log of blocked and flagged prompts.")


@review_app.command("list")
def review_list(as_json: JsonFlag = False) -> None:
    """Flagged deployments waiting for a decision, oldest first."""

    async def main() -> int:
        settings = load_settings()
        shown = show_rows(
            await review_queue(settings),
            as_json=as_json,
            empty="nothing is waiting for review",
            line=lambda item: (
                f"deploy-{item.app_id}-{item.deployment_id}  owner {item.owner_id}"
                f"  flagged {item.flagged_at:%Y-%m-%d %H:%M}  ({escape(item.reason)})\n"
                f"    {escape(item.prompt[:200])}"
            ),
        )
        if not as_json:  # the JSON stays the flagged deployments (mb egress review --json)
            async with database(settings) as db:
                egress = await awaiting_egress_approval(EgressApprovals(db, AuditLog(db)))
            for request in egress:
                console.print(
                    f"egress {request.app_id} v{request.version}  {request.target}"
                    f"  (mb egress approve|reject {request.app_id} {request.target})"
                )
        return shown

    run(main())


@review_app.command("approve")
def review_approve(
    workflow_id: Annotated[str, typer.Argument(help="deploy-... or app-... workflow id")],
    reviewer: Annotated[str, typer.Option(help="who decides")] = "operator",
    reason: Annotated[str, typer.Option(help="why")] = "",
) -> None:
    """Let a flagged deployment continue."""
    run(review(load_settings(), console, workflow_id, "approve", reviewer, reason))


@review_app.command("reject")
def review_reject(
    workflow_id: Annotated[str, typer.Argument(help="deploy-... or app-... workflow id")],
    reviewer: Annotated[str, typer.Option(help="who decides")] = "operator",
    reason: Annotated[str, typer.Option(help="why")] = "",
) -> None:
    """Reject a flagged deployment (it ends as rejected)."""
    run(review(load_settings(), console, workflow_id, "reject", reviewer, reason))


@moderation_app.command("list")
def moderation_list(
    verdict: Annotated[str | None, typer.Option(help="block or flag")] = None,
    owner: Annotated[str | None, typer.Option(help="user id")] = None,
    search: Annotated[str | None, typer.Option(help="text in the prompt or reason")] = None,
    since: Annotated[datetime | None, typer.Option(help="ISO time")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 50,
    operator: Annotated[str, typer.Option(help="who reads (audited)")] = "operator",
    as_json: JsonFlag = False,
) -> None:
    """Blocked and flagged prompts, newest first (the read is audited)."""
    if verdict not in (None, "block", "flag"):
        fail("--verdict is block or flag")

    async def main() -> int:
        rows = await search_moderation(
            load_settings(),
            operator=operator,
            verdict=verdict,
            owner=owner,
            text=search,
            since=since,
            limit=limit,
        )
        return show_rows(
            rows,
            as_json=as_json,
            empty="no blocked or flagged prompts",
            line=lambda row: (
                f"{row.created_at:%Y-%m-%d %H:%M}  {row.verdict:<5}  {row.app_id}"
                f"  owner {row.owner_id}  ({escape(row.reason)})\n    {escape(row.prompt[:200])}"
            ),
        )

    run(main())


async def review_queue(settings: Settings) -> list[ReviewItem]:
    """Flagged deployments waiting for a decision, oldest first."""
    client = await temporal(settings)
    async with database(settings) as db:
        return await awaiting_review(
            client, ModerationLog(db), window=timedelta(seconds=settings.review_timeout_s)
        )


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


async def search_moderation(
    settings: Settings,
    *,
    operator: str,
    verdict: str | None,
    owner: str | None,
    text: str | None,
    since: datetime | None,
    limit: int,
) -> list[ModerationLogEntry]:
    """Matching entries, newest first; the read is audited under ``operator``."""
    async with database(settings) as db:
        found = await ModerationLog(db).search(
            verdict=verdict, owner_id=owner, text=text, since=since, limit=limit
        )
        await AuditLog(db).record(
            AuditEvent(
                actor=Actor(user_id=operator),
                action=AuditAction.MODERATION_READ,
                resource="moderation_log",
                outcome=AuditOutcome.OK,
                detail={"verdict": verdict, "owner": owner, "q": text, "rows": len(found)},
            )
        )
    return found

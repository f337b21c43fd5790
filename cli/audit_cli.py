"""``mb audit verify|tail|search``: the append-only, hash-chained audit log from the
command line (read straight from PostgreSQL)."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from cli.endpoints import database
from cli.runner import JsonFlag, console, load_settings, run
from schemas.audit import AuditAction, AuditOutcome, AuditRecord
from schemas.settings import Settings
from store.audit import AuditLog

audit_app = typer.Typer(help="The append-only, hash-chained audit log.")


@audit_app.command("verify")
def audit_verify(as_json: JsonFlag = False) -> None:
    """Walk the hash chain; exit 1 naming the first altered, deleted or reordered row."""

    async def main() -> int:
        async with database(load_settings()) as db:
            audit = AuditLog(db)
            result = await audit.verify()
            head = await audit.head()
        if as_json:
            print(result.model_dump_json(indent=2))
        elif result.ok:
            anchor = f"; head {head.seq} {head.hash}" if head else ""
            console.print(f"[green]intact[/]: {result.rows_checked} rows{anchor}")
        else:
            console.print(
                f"[bold red]broken at row {result.first_bad_seq}[/]: {result.problem} "
                f"({result.rows_checked} rows before it check out)"
            )
        return 0 if result.ok else 1

    run(main())


@audit_app.command("tail")
def audit_tail(
    lines: Annotated[int, typer.Option("-n", help="how many rows")] = 20,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="keep printing new rows")] = False,
) -> None:
    """The newest rows (and, with --follow, every new one)."""
    settings = load_settings()

    async def main() -> int:
        rows = await search_audit(
            settings,
            actor=None,
            action=None,
            resource=None,
            outcome=None,
            since=None,
            after_seq=None,
            limit=lines,
        )
        console.print(audit_table(rows))
        if follow:
            await follow_audit(settings, console, rows[-1].seq if rows else 0)
        return 0

    try:
        run(main())
    except KeyboardInterrupt:
        raise typer.Exit(0) from None


@audit_app.command("search")
def audit_search(
    actor: Annotated[str | None, typer.Option(help="user id")] = None,
    action: Annotated[AuditAction | None, typer.Option(help="e.g. secret.reveal")] = None,
    resource: Annotated[str | None, typer.Option(help="resource prefix, e.g. secret:shop/")] = None,
    outcome: Annotated[AuditOutcome | None, typer.Option()] = None,
    since: Annotated[datetime | None, typer.Option(help="ISO time")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 100,
    as_json: JsonFlag = False,
) -> None:
    """Rows matching every filter, oldest first."""

    async def main() -> int:
        rows = await search_audit(
            load_settings(),
            actor=actor,
            action=action,
            resource=resource,
            outcome=outcome,
            since=since.replace(tzinfo=since.tzinfo or UTC) if since else None,
            after_seq=None,
            limit=limit,
        )
        if as_json:
            print(json.dumps([r.model_dump(mode="json") for r in rows], indent=2))
        else:
            console.print(audit_table(rows))
        return 0

    run(main())


def audit_table(rows: list[AuditRecord]) -> Table:
    """One line per audit row."""
    table = Table("seq", "at (UTC)", "actor", "ip", "action", "resource", "outcome", "detail")
    for r in rows:
        colour = {"ok": "green", "denied": "red"}.get(r.outcome, "yellow")
        table.add_row(
            str(r.seq),
            f"{r.at:%Y-%m-%d %H:%M:%S}",
            r.actor,
            r.client_ip or "-",
            r.action,
            r.resource,
            f"[{colour}]{r.outcome}[/]",
            json.dumps(r.detail, separators=(",", ":")) if r.detail else "",
        )
    return table


async def search_audit(
    settings: Settings,
    *,
    actor: str | None,
    action: AuditAction | None,
    resource: str | None,
    outcome: AuditOutcome | None,
    since: datetime | None,
    after_seq: int | None,
    limit: int,
) -> list[AuditRecord]:
    """Rows of the audit log, oldest first."""
    async with database(settings) as db:
        rows = await AuditLog(db).search(
            actor=actor,
            action=action,
            resource_prefix=resource,
            outcome=outcome,
            since=since,
            after_seq=after_seq,
            limit=limit,
            newest_first=after_seq is None,
        )
    return rows if after_seq is not None else rows[::-1]


async def follow_audit(
    settings: Settings, console: Console, after_seq: int, poll_s: float = 1.0
) -> None:
    """Print new rows as they are appended, until interrupted."""
    async with database(settings) as db:
        audit = AuditLog(db)
        while True:
            rows = await audit.search(after_seq=after_seq, newest_first=False, limit=500)
            if rows:
                console.print(audit_table(rows))
                after_seq = rows[-1].seq
            await asyncio.sleep(poll_s)

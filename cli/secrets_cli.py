"""``mb secrets`` and ``mb audit``: the secrets store and the audit log from the command line.

The CLI talks to PostgreSQL directly, as the user given by ``--as`` (default:
the local user); every access is audited exactly like an API call. Secret
values are read from a file or standard input, never from the command line
(where ``ps`` and shell history would keep them).
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from cli.commands import database, temporal
from pipeline.operations import refresh_if_declared
from schemas.audit import AuditAction, AuditOutcome, AuditRecord
from schemas.secrets import SecretInfo
from schemas.settings import Settings
from store.artifacts import ArtifactStore
from store.audit import AuditLog
from store.bundle_cache import BundleCache
from store.key_rings import master_envelope
from store.secrets import SecretStore


@asynccontextmanager
async def secret_store(settings: Settings) -> AsyncIterator[SecretStore]:
    """The secrets store on a short-lived pool."""
    async with database(settings) as db:
        yield SecretStore(db, master_envelope(settings), AuditLog(db))


async def refresh_after_change(settings: Settings, app_id: str, name: str, user: str) -> str | None:
    """Roll the live release onto the new value if it declares ``name``."""
    client = await temporal(settings)
    async with database(settings) as db:
        bundles = BundleCache(ArtifactStore(db), settings.data_path / "bundles")
        return await refresh_if_declared(client, bundles, app_id, [name], user)


def read_value(from_file: Path | None) -> str:
    """The secret value: a file, piped standard input, or a hidden prompt."""
    if from_file is not None:
        text = from_file.read_text()
    elif not sys.stdin.isatty():
        text = sys.stdin.read()
    else:
        text = typer.prompt("value", hide_input=True, confirmation_prompt=True)
    return text.removesuffix("\n")


def secrets_table(infos: list[SecretInfo]) -> Table:
    """Names, versions, sizes: never values."""
    table = Table("name", "version", "bytes", "updated", "by")
    for s in infos:
        table.add_row(
            s.name, str(s.version), str(s.size), f"{s.updated_at:%Y-%m-%d %H:%M:%S}", s.updated_by
        )
    return table


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

"""``mb secrets``: an app's secrets from the command line.

The CLI talks to PostgreSQL directly, as the user given by ``--as`` (default:
the local user); every access is audited exactly like an API call. Secret
values are read from a file or standard input, never from the command line
(where ``ps`` and shell history would keep them).
"""

from __future__ import annotations

import json
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from cli.endpoints import database, temporal
from cli.runner import AppArg, AsUser, JsonFlag, console, load_settings, run
from pipeline.operations import refresh_if_declared
from schemas.audit import Actor
from schemas.secrets import SecretInfo
from schemas.settings import Settings
from store.artifacts import ArtifactStore
from store.audit import AuditLog
from store.bundle_cache import BundleCache
from store.key_rings import master_envelope
from store.secrets import SecretStore

secrets_app = typer.Typer(help="Secrets of an app (AES-256-GCM, owner-checked, audited).")

SecretArg = Annotated[str, typer.Argument(metavar="NAME", help="[A-Z_][A-Z0-9_]{0,63}")]


@secrets_app.command("set")
def secrets_set(
    app_id: AppArg,
    name: SecretArg,
    from_file: Annotated[
        Path | None, typer.Option(help="read the value from this file (default: stdin or a prompt)")
    ] = None,
    user: AsUser = "local",
) -> None:
    """Store a new version of a secret (the value never goes on the command line)."""
    value = read_value(from_file)

    async def main() -> int:
        settings = load_settings()
        async with secret_store(settings) as store:
            info = await store.set(_cli_actor(user), app_id, name, value)
        console.print(f"{app_id}: {name} is now version {info.version} ({info.size} bytes)")
        if await refresh_after_change(settings, app_id, name, user):
            console.print(f"{app_id}: the live release is being restarted with the new value")
        return 0

    run(main())


@secrets_app.command("list")
def secrets_list(app_id: AppArg, user: AsUser = "local", as_json: JsonFlag = False) -> None:
    """Names, versions and sizes of an app's secrets (never values)."""

    async def main() -> int:
        async with secret_store(load_settings()) as store:
            infos = await store.names(_cli_actor(user), app_id)
        if as_json:
            print(json.dumps([i.model_dump(mode="json") for i in infos], indent=2))
        else:
            console.print(secrets_table(infos))
        return 0

    run(main())


@secrets_app.command("reveal")
def secrets_reveal(
    app_id: AppArg,
    name: SecretArg,
    version: Annotated[int | None, typer.Option(help="a given version")] = None,
    user: AsUser = "local",
) -> None:
    """Print a secret's value (owner only; audited)."""

    async def main() -> int:
        async with secret_store(load_settings()) as store:
            _, value = await store.reveal(_cli_actor(user), app_id, name, version)
        sys.stdout.write(value + "\n")
        return 0

    run(main())


@secrets_app.command("delete")
def secrets_delete(app_id: AppArg, name: SecretArg, user: AsUser = "local") -> None:
    """Destroy every version of a secret."""

    async def main() -> int:
        settings = load_settings()
        async with secret_store(settings) as store:
            count = await store.delete(_cli_actor(user), app_id, name)
        console.print(f"{app_id}: {name} deleted ({count} version(s) destroyed)")
        if await refresh_after_change(settings, app_id, name, user):
            console.print(f"{app_id}: the live release is being restarted without it")
        return 0

    run(main())


def _cli_actor(user: str) -> Actor:
    return Actor(user_id=user, client_ip=None)


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

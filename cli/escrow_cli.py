"""``mb keys export`` and ``mb keys import``: the key ring as an encrypted escrow file.

The passphrase never goes on the command line: it comes from a file, standard
input, or a hidden prompt. An export is audited when the database is reachable;
an import reads the erasure records of every ledger it can find (the escrow's,
the key directory's, the backup directory's, and the database's when one runs).

Rotating keys and escrowing them change for different reasons (an online workflow
against the database; an offline file that must work when nothing else does), so the
escrow keeps its own module; ``keys_cli`` puts its two commands in the ``mb keys`` group.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Annotated

import typer
from pydantic import SecretStr

from cli.endpoints import database
from cli.runner import console, load_settings, run
from schemas.audit import Actor, AuditAction, AuditEvent, AuditOutcome
from schemas.escrow import EscrowImport, KeyEscrow
from schemas.settings import Settings
from store.audit import AuditLog
from store.key_escrow import (
    EscrowError,
    EscrowLock,
    collect,
    import_escrow,
    open_escrow,
    read_escrow,
    seal,
    write_escrow,
)
from store.key_rings import owner_keys
from store.owner_keys import OwnerKeys

log = logging.getLogger(__name__)

escrow_commands = typer.Typer()


@escrow_commands.command("export")
def keys_export(
    to: Annotated[Path, typer.Option("--to", help="the escrow file to write (0600)")],
    recipient: Annotated[
        list[str] | None,
        typer.Option(help="an age X25519 recipient (age1...); repeatable"),
    ] = None,
    passphrase_file: Annotated[
        Path | None, typer.Option(help="read the passphrase from this file")
    ] = None,
    user: Annotated[str, typer.Option("--as", help="who exports (audited)")] = "local",
) -> None:
    """Write every key (master, payload, evidence, erasure keys) into one encrypted
    file: to age recipients, or under a passphrase (file, stdin or a hidden prompt)."""

    async def main() -> int:
        lock = export_lock(recipient or [], passphrase_file)
        document = await export(load_settings(), to, lock, user)
        console.print(
            f"wrote {to}: {len(document.master.keys)} master, {len(document.codec.keys)}"
            f" payload, {len(document.evidence.keys)} evidence and {len(document.owners)}"
            f" owner key(s); {len(document.erased)} erased owner(s) recorded"
        )
        console.print("keep it apart from the backups' machine; see README for retention")
        return 0

    run(main())


@escrow_commands.command("import")
def keys_import(
    source: Annotated[Path, typer.Option("--from", help="the escrow file")],
    identity: Annotated[
        Path | None, typer.Option(help="an age identity file (for recipient escrows)")
    ] = None,
    passphrase_file: Annotated[
        Path | None, typer.Option(help="read the passphrase from this file")
    ] = None,
) -> None:
    """Restore keys from an escrow into the data directory: missing keys are added,
    existing ones kept, erased owners' keys never brought back; a file that does not
    authenticate changes nothing."""

    async def main() -> int:
        lock = import_lock(identity, passphrase_file)
        done, with_db = await import_(load_settings(), source, lock)
        added = ", ".join(f"{n} {ring}" for ring, n in done.added.items())
        console.print(f"imported the escrow of {done.created_at:%Y-%m-%d %H:%M:%S}Z: {added}")
        if done.skipped_erased:
            console.print(f"{done.skipped_erased} erased owner key(s) not restored")
        if done.current_kept:
            console.print(f"kept the current key of: {', '.join(done.current_kept)}")
        if not with_db:
            console.print(
                "no database answered: erasures were read from the escrow's and the"
                " directories' ledgers only, and the master keys were not checked against"
                " the data keys; start the restored database first where you can"
            )
        return 0

    run(main())


def read_passphrase(from_file: Path | None, *, confirm: bool) -> str:
    """A passphrase from a file, piped standard input, or a hidden prompt."""
    if from_file is not None:
        try:
            text = from_file.read_text()
        except OSError as err:
            raise EscrowError(f"cannot read {from_file}: {err.strerror}") from None
    elif not sys.stdin.isatty():
        text = sys.stdin.read()
    else:
        text = typer.prompt("escrow passphrase", hide_input=True, confirmation_prompt=confirm)
    return text.removesuffix("\n")


def export_lock(recipients: list[str], passphrase_file: Path | None) -> EscrowLock:
    """Recipients when given, else a passphrase."""
    if recipients:
        if passphrase_file is not None:
            raise EscrowError("give --recipient or --passphrase-file, not both")
        return EscrowLock(recipients=tuple(recipients))
    return EscrowLock.from_passphrase(read_passphrase(passphrase_file, confirm=True))


def import_lock(identity: Path | None, passphrase_file: Path | None) -> EscrowLock:
    """An identity file when given, else a passphrase."""
    if identity is not None:
        if passphrase_file is not None:
            raise EscrowError("give --identity or --passphrase-file, not both")
        return EscrowLock.from_identity_file(identity)
    text = read_passphrase(passphrase_file, confirm=False)
    if not text:
        raise EscrowError("the passphrase is empty")
    return EscrowLock(passphrase=SecretStr(text))


async def export(settings: Settings, to: Path, lock: EscrowLock, user: str) -> KeyEscrow:
    """Write the key ring to ``to``, encrypted under ``lock``; audited when possible."""
    document = collect(settings)
    write_escrow(to, seal(document, lock))
    try:
        async with database(settings) as db:
            await AuditLog(db).record(
                AuditEvent(
                    actor=Actor(user_id=user),
                    action=AuditAction.KEY_ESCROW_EXPORT,
                    resource="keys:escrow",
                    outcome=AuditOutcome.OK,
                    detail={
                        "to": "recipients" if lock.recipients else "passphrase",
                        "owner_keys": len(document.owners),
                    },
                )
            )
    except Exception as err:  # the escrow matters more than its audit row
        log.warning("the export was not audited: no database (%s)", type(err).__name__)
    return document


async def database_facts(settings: Settings) -> tuple[set[str], set[str]] | None:
    """(key names of every erasure the database records, master key ids its data keys
    are wrapped under); None if no database answers."""
    try:
        async with database(settings) as db, db.connection() as conn:
            erased = await (
                await conn.execute("SELECT user_id FROM privacy_erasures WHERE key_shredded")
            ).fetchall()
            masters = await (
                await conn.execute("SELECT DISTINCT master_key_id FROM data_keys")
            ).fetchall()
    except Exception:
        return None
    return (
        {OwnerKeys.key_name(str(r["user_id"])) for r in erased},
        {str(r["master_key_id"]) for r in masters},
    )


async def import_(settings: Settings, source: Path, lock: EscrowLock) -> tuple[EscrowImport, bool]:
    """Restore the escrow into the key directory; (what was done, whether the
    database's erasure records were read too)."""
    document = open_escrow(read_escrow(source), lock)
    facts = await database_facts(settings)
    erased, masters = facts or (set(), set())
    done = import_escrow(
        document,
        settings.keys_path,
        ledgers=owner_keys(settings).ledgers[1:],  # the backup directory's copy
        erased_elsewhere=erased,
        master_ids_in_use=masters,
    )
    return done, facts is not None

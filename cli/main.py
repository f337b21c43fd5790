"""The ``mb`` command line (typer + rich): the app and its wiring.

Operators' and on-call's tool: it talks to Temporal and PostgreSQL directly
(found through the environment or a running ``mb up``), never through the
public HTTP API. Each ``*_cli`` module owns its commands; ``runner`` holds what
they share (the error mapping, consoles, settings).
"""

from __future__ import annotations

import os
import sys

import typer

from cli import (
    audit_cli,
    backup_cli,
    checks_cli,
    deployments_cli,
    egress_cli,
    hosts_cli,
    keys_cli,
    moderation_cli,
    operator_cli,
    processes_cli,
    qa_policy_cli,
    runtime_cli,
    secrets_cli,
)

app = typer.Typer(
    name="mb",
    help="MicroBuilder's secure deployment pipeline.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)

# A Typer added without a name puts its commands at mb's top level; `mb --help`
# lists everything in the order it is added here.
app.add_typer(processes_cli.top_level)  # up, worker, api, gateway, codec-server
app.add_typer(deployments_cli.top_level)  # deploy, status, rollback
app.add_typer(operator_cli.top_level)  # incidents, alerts
app.add_typer(backup_cli.top_level)  # restore
app.add_typer(checks_cli.top_level)  # replay, moderate, qa
app.add_typer(moderation_cli.review_app, name="review")
app.add_typer(operator_cli.token_app, name="token")
app.add_typer(checks_cli.evidence_app, name="evidence")
app.add_typer(checks_cli.advisories_app, name="advisories")
app.add_typer(secrets_cli.secrets_app, name="secrets")
app.add_typer(audit_cli.audit_app, name="audit")
app.add_typer(moderation_cli.moderation_app, name="moderation")
app.add_typer(operator_cli.users_app, name="users")
app.add_typer(operator_cli.privacy_app, name="privacy")
app.add_typer(runtime_cli.runtime_app, name="runtime")
app.add_typer(backup_cli.backup_app, name="backup")
app.add_typer(keys_cli.keys_app, name="keys")
app.add_typer(qa_policy_cli.qa_policy_app, name="qa-policy")
app.add_typer(egress_cli.egress_app, name="egress")
app.add_typer(hosts_cli.hosts_app, name="hosts")


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


if __name__ == "__main__":
    main()

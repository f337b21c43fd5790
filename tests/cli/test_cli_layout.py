"""The shape of the ``mb`` command: every command path, in the order ``mb --help`` lists
them, with the first line of its help, as they were before ``cli/main.py`` was split into
one module per concern; and a ``main.py`` that only wires those modules' Typer apps."""

from __future__ import annotations

import ast
import importlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import typer

import cli.main
from cli.main import app

COMMAND_TREE = [
    ("", "MicroBuilder's secure deployment pipeline."),
    ("up", "Start the embedded stack (Temporal, PostgreSQL, workers, API) until Ctrl-C."),
    ("worker", "Run only the workers (production: one or more per host)."),
    ("api", "Run only the HTTP API (production: behind a TLS-terminating proxy)."),
    ("gateway", "Run only the gateway to deployed apps, on their own origin (MB_APPS_PORT)."),
    ("host-gateway", "Serve this runtime host's apps to the front gateway only (mutual TLS)."),
    (
        "operator-ui",
        "Run only the operators' origin: the Temporal UI behind our login (MB_OPERATOR_PORT).",
    ),
    (
        "codec-server",
        "Serve POST /encode and /decode for operators' bearer tokens (the CLI's codec).",
    ),
    ("deploy", "Deploy a prompt (or a bundle) through the whole gate; shows progress and the URL."),
    ("status", "Show an app's live release, running deployment and recent history."),
    ("rollback", "Roll an app back to its previous release (or to --to VERSION)."),
    ("incidents", "Rollbacks (by hand or automatic), newest first: what, when, why, who."),
    ("alerts", "Alerts raised by the anomaly rules, newest first."),
    (
        "restore",
        "Point-in-time recovery: the newest base backup before TIMESTAMP plus the archived",
    ),
    ("replay", "Replay histories against the current code; exit 1 on non-determinism."),
    ("moderate", "The moderation verdict on a prompt, without deploying anything."),
    ("qa", "Run the QA gate on a bundle directory without deploying it (exit 1 if it fails)."),
    ("review", "Approve or reject a deployment flagged by moderation."),
    ("review list", "Flagged deployments waiting for a decision, oldest first."),
    ("review approve", "Let a flagged deployment continue."),
    ("review reject", "Reject a flagged deployment (it ends as rejected)."),
    ("token", "API bearer tokens."),
    ("token create", "Issue a new API token (shown once; only its hash is stored)."),
    ("evidence", "Signed QA evidence of releases."),
    (
        "evidence verify",
        "Check a release's signed QA evidence (signature, bundle, report, verdicts).",
    ),
    ("advisories", "The offline advisory database of the dependency scan."),
    ("advisories update", "Download the current OSV PyPI advisory database into MB_ADVISORY_DB."),
    ("secrets", "Secrets of an app (AES-256-GCM, owner-checked, audited)."),
    ("secrets set", "Store a new version of a secret (the value never goes on the command line)."),
    ("secrets list", "Names, versions and sizes of an app's secrets (never values)."),
    ("secrets reveal", "Print a secret's value (owner only; audited)."),
    ("secrets delete", "Destroy every version of a secret."),
    ("audit", "The append-only, hash-chained audit log."),
    (
        "audit verify",
        "Walk the hash chain; exit 1 naming the first altered, deleted or reordered row.",
    ),
    ("audit tail", "The newest rows (and, with --follow, every new one)."),
    ("audit search", "Rows matching every filter, oldest first."),
    ("moderation", "The log of blocked and flagged prompts."),
    ("moderation list", "Blocked and flagged prompts, newest first (the read is audited)."),
    ("users", "Accounts: reinstate a suspended user."),
    ("users reinstate", "Let a user the blocked-prompt rule suspended deploy again."),
    ("privacy", "Privacy rights: export or erase a user's data."),
    (
        "privacy export",
        "Everything held about a user, as a zip (GDPR art. 15 / CCPA right to know).",
    ),
    ("privacy erase", "Erase a user (GDPR art. 17 / CCPA right to delete): apps offline, secrets"),
    ("runtime", "The app runtime (MB_RUNTIME: sandbox or docker)."),
    (
        "runtime build-base",
        "Build the Docker runtime's Python base image from Debian packages (no registry",
    ),
    ("backup", "Base backups and the WAL archive (point-in-time recovery)."),
    ("backup list", "Complete base backups, newest first, with their last restore drill."),
    (
        "backup archive-settings",
        "The postgresql.conf lines an external server needs to archive into MB_BACKUP_DIR.",
    ),
    (
        "backup now",
        "Take a base backup now, verify it, prove it restores, prune old ones (workers).",
    ),
    ("keys", "Master keys of the secrets store."),
    (
        "keys rotate",
        "A new master key: every data key rewrapped online (resumable), unused keys retired.",
    ),
    (
        "keys rotate-codec",
        "A new Temporal payload key (embedded ring): new payloads use it after the processes",
    ),
    ("keys status", "Which master keys wrap how many data keys; the last rotation's progress."),
    ("keys export", "Write every key (master, payload, evidence, erasure keys) into one encrypted"),
    ("keys import", "Restore keys from an escrow into the data directory: missing keys are added,"),
    ("qa-policy", "An app's QA floor; operators may lower it (audited)."),
    (
        "qa-policy show",
        "The QA floor an app's deployments are held to: the platform's, or an override.",
    ),
    ("qa-policy set", "Set an app's QA floor, below the platform's minimum if need be (audited)."),
    ("qa-policy clear", "Back to the platform's minimum (audited)."),
    ("egress", "Apps' egress: the review queue, decisions, refusals, use."),
    ("egress review", "Declared hosts waiting for an operator's decision, oldest first."),
    ("egress approve", "Let the app reach HOST:PORT (every release of it that declares it)."),
    (
        "egress reject",
        "Keep the app from reaching HOST:PORT (its requests are refused and audited).",
    ),
    ("egress refusals", "What the egress proxies refused (app, host, port, reason), newest first."),
    ("egress show", "An app's egress per host: connections, bytes each way, refusals."),
    ("hosts", "Runtime hosts: capacity, load, heartbeat; drain one before maintenance."),
    ("hosts drain", "No new apps on NAME; move its live apps to other hosts (no failed request)."),
    ("hosts undrain", "Let NAME take new apps again."),
]


def _walk(command: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[str, str]]:
    """Every command path with the first line of its help, depth first, in listing order."""
    yield " ".join(path), (command.help or "").splitlines()[0]
    for name in command.list_commands(None) if hasattr(command, "commands") else []:
        yield from _walk(command.commands[name], (*path, name))


def test_mb_lists_the_same_commands_with_the_same_help() -> None:
    assert list(_walk(typer.main.get_command(app))) == COMMAND_TREE


def test_main_only_wires_the_command_modules() -> None:
    source = Path(cli.main.__file__).read_text()
    assert len(source.splitlines()) < 120
    module = ast.parse(source)
    wired: list[str] = []
    for node in module.body:
        match node:
            case ast.ImportFrom(module="cli", names=names):
                assert all(n.name.endswith("_cli") for n in names), ast.unparse(node)
            case ast.Import(names=names):
                assert {n.name for n in names} <= {"os", "sys", "typer"}, ast.unparse(node)
            case ast.ImportFrom(module="__future__"):
                pass
            case ast.Expr(ast.Call(ast.Attribute(ast.Name("app"), "add_typer"), [argument])):
                wired.append(ast.unparse(argument))
            case ast.FunctionDef(name="main", decorator_list=[]):
                pass
            case ast.If(ast.Compare(ast.Name("__name__"))):
                pass
            case ast.Assign(targets=[ast.Name("app")]) | ast.Expr(ast.Constant(str())):
                pass
            case _:
                raise AssertionError(f"main.py does more than wiring: {ast.unparse(node)}")
    for name in wired:
        owner, attribute = name.split(".")
        sub_app = getattr(importlib.import_module(f"cli.{owner}"), attribute)
        assert isinstance(sub_app, typer.Typer), name
        assert sub_app.registered_commands or sub_app.registered_groups, name

"""Checks run by hand that deploy nothing: ``mb replay`` (recorded workflow histories
against the current code), ``mb moderate`` (a prompt's verdict), ``mb qa`` (the whole QA
gate on a bundle directory), ``mb evidence verify`` (a release's signed QA evidence); and
``mb advisories update``, which refreshes the database the dependency check reads."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from temporalio.client import Client, WorkflowHistory

from activities.qa.advisory_update import update_advisories
from activities.qa.evidence import EvidenceInvalid, EvidencePayload, EvidenceService
from activities.qa.gate import QAGate
from cli.endpoints import database, temporal
from cli.runner import (
    AppArg,
    CommandError,
    JsonFlag,
    console,
    err_console,
    fail,
    load_settings,
    run,
)
from runtime.envs import EnvBuilder
from schemas.deployment import validate_app_id, validate_prompt
from schemas.moderation import ModerationResult
from schemas.qa import QAGateReport
from schemas.settings import Settings
from store.artifacts import ArtifactStore
from store.bundles import bundle_hash, load_bundle_dir, write_bundle
from store.qa_reports import QAReportRepository
from temporal.converter import payload_codec
from workers.replay import ReplayOutcome, server_histories
from workers.replay import replay as replay_histories
from workers.wiring import evidence_keys, moderator, openai_client

top_level = typer.Typer()
evidence_app = typer.Typer(help="Signed QA evidence of releases.")
advisories_app = typer.Typer(help="The offline advisory database of the dependency scan.")


@top_level.command()
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
        fail("give exactly one of WORKFLOW_ID, --all or --file", 2)

    async def main() -> int:
        histories: list[WorkflowHistory] | None = None
        if file:
            histories = [WorkflowHistory.from_json(p.stem, json.loads(p.read_text())) for p in file]
        settings = load_settings()
        client: Client | None = None if histories else await temporal(settings)
        outcomes = await replay_outcomes(settings, client, workflow_id, histories)
        failed = [o for o in outcomes if o.error]
        for o in outcomes:
            mark = "[red]FAIL[/]" if o.error else "[green]ok[/]"
            console.print(f"{mark} {o.workflow_id} {o.run_id} {o.error or ''}")
        console.print(f"{len(outcomes)} histories replayed, {len(failed)} failed")
        if not outcomes:
            err_console.print("[yellow]no histories found[/]")
            return 1
        return 1 if failed else 0

    run(main())


@top_level.command()
def moderate(
    prompt: Annotated[str, typer.Argument(help="the prompt to judge")],
    as_json: JsonFlag = False,
) -> None:
    """The moderation verdict on a prompt, without deploying anything."""

    async def main() -> int:
        result = await moderation_verdict(load_settings(), prompt)
        if as_json:
            console.print_json(result.model_dump_json())
            return 0
        colour = {"allow": "green", "flag": "yellow", "block": "red"}[result.verdict]
        console.print(f"[bold {colour}]{result.verdict}[/] ({result.backend}): {result.reason}")
        for c in result.categories:
            console.print(f"  {c.category.value}: {c.score:.2f}")
        return 0

    run(main())


@top_level.command()
def qa(
    directory: Annotated[Path, typer.Argument(metavar="DIR", help="a bundle directory")],
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable report")] = False,
) -> None:
    """Run the QA gate on a bundle directory without deploying it (exit 1 if it fails)."""

    async def main() -> int:
        report = await run_gate(load_settings(), directory)
        if as_json:
            sys.stdout.write(report.model_dump_json(indent=2) + "\n")
        else:
            for stage in report.stages:
                colour = "green" if stage.verdict == "pass" else "red"
                console.print(f"[{colour}]{stage.verdict}[/] {stage.stage}: {stage.reason}")
            egress = ", ".join(report.egress) or "none declared"
            console.print(f"egress: {egress} (each needs an operator's approval per app)")
            console.print(f"verdict: [bold]{report.verdict}[/] ({report.duration_s:.1f} s)")
        return 0 if report.verdict == "pass" else 1

    run(main())


@evidence_app.command("verify")
def evidence_verify(
    app_id: AppArg,
    version: Annotated[int, typer.Argument(metavar="VERSION", help="the release's version")],
) -> None:
    """Check a release's signed QA evidence (signature, bundle, report, verdicts)."""

    async def main() -> int:
        payload = await verify_evidence(load_settings(), app_id, version)
        console.print(
            f"[green]valid[/]: {app_id} v{version} bundle {payload.bundle_hash[:16]} "
            f"passed {', '.join(payload.verdicts)}"
        )
        return 0

    run(main())


@advisories_app.command("update")
def advisories_update() -> None:
    """Download the current OSV PyPI advisory database into MB_ADVISORY_DB."""

    async def main() -> int:
        count = await update_advisory_db(load_settings())
        console.print(f"{count} advisories installed")
        return 0

    run(main())


async def replay_outcomes(
    settings: Settings,
    client: Client | None,
    workflow_id: str | None,
    histories: list[WorkflowHistory] | None,
) -> list[ReplayOutcome]:
    """``mb replay``: from files, one workflow id, or everything on the server.

    Histories may be encrypted (decoded with the key ring) or recorded before
    encryption (read as they are): replay only reads, it sends nothing.
    """
    codec = payload_codec(settings, accept_plaintext=True)
    worker_codec = payload_codec(settings)  # decodes (and refuses) as the workers do
    if histories is not None:
        return await replay_histories(histories, codec, worker_codec=worker_codec)
    assert client is not None
    return await replay_histories(
        server_histories(client, workflow_id), codec, worker_codec=worker_codec
    )


async def moderation_verdict(settings: Settings, prompt: str) -> ModerationResult:
    """``mb moderate``."""
    return await moderator(settings, openai_client(settings)).moderate(validate_prompt(prompt))


async def run_gate(settings: Settings, directory: Path) -> QAGateReport:
    """``mb qa DIR``: the whole gate on a local bundle, no Temporal or database needed."""
    bundle = load_bundle_dir(directory)
    digest = bundle_hash(bundle)
    checkout = write_bundle(bundle, settings.data_path / "bundles" / digest)
    gate = QAGate(EnvBuilder(settings.data_path / "envs"), settings)
    return await gate.run_all(checkout, bundle, digest, settings.qa_policy())


async def verify_evidence(settings: Settings, app_id: str, version: int) -> EvidencePayload:
    """``mb evidence verify APP VERSION``: the release's signed QA evidence checks out."""
    async with database(settings) as db:
        reports = QAReportRepository(db)
        row = await reports.evidence_for_release(validate_app_id(app_id), version)
        if row is None:
            raise CommandError(f"{app_id} v{version}: no release with QA evidence")
        service = EvidenceService(reports, ArtifactStore(db), evidence_keys(settings))
        try:
            return await service.verify(row)
        except EvidenceInvalid as err:
            raise CommandError(str(err)) from None


async def update_advisory_db(settings: Settings) -> int:
    """``mb advisories update``: fetch the current OSV PyPI database (where allowed)."""
    return await update_advisories(settings.advisory_url, settings.advisory_path, timeout_s=120)

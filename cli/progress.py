"""A live view of one deployment's stages (rich), used by ``mb deploy`` and ``mb up --demo``,
and the generator's repair attempts as ``mb status`` shows them."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable

from rich.console import Console
from rich.live import Live
from rich.markup import escape
from rich.table import Table
from temporalio.client import Client

from pipeline.operations import PipelineRequestError, app_status, deployment_status
from schemas.deployment import (
    DeploymentOutcome,
    DeploymentStatus,
    DeploymentSummary,
    Stage,
)

_VERDICT_COLOUR = {"pass": "green", "fail": "red", "pending": "yellow"}

PIPELINE = [
    Stage.MODERATING,
    Stage.AWAITING_REVIEW,
    Stage.GENERATING,
    Stage.TESTING,
    Stage.DEPLOYING,
    Stage.HEALTH_CHECKING,
    Stage.SWITCHING,
    Stage.WATCHING,
    Stage.RECORDING,
]


def render(
    status: DeploymentStatus | None,
    summary: DeploymentSummary | None,
    queue_position: int | None = None,
) -> Table:
    """One row per stage: done (with seconds), running, or waiting (the QA gate, while it
    waits for a worker's cores, with its place in the queue)."""
    table = Table(title="deployment", show_lines=False)
    table.add_column("stage")
    table.add_column("state")
    table.add_column("seconds", justify="right")
    done: dict[Stage, float] = {}
    for timing in status.timings if status else []:  # a repair generates and tests again
        done[timing.stage] = done.get(timing.stage, 0.0) + timing.seconds
    current = status.stage if status else Stage.QUEUED
    for stage in PIPELINE:
        if stage is Stage.AWAITING_REVIEW and stage not in done and current is not stage:
            continue
        if stage is current and stage is Stage.TESTING and queue_position is not None:
            table.add_row(stage.value, f"[yellow]queued #{queue_position}[/]", "")
        elif stage is current:  # a repair runs generation and the tests again
            table.add_row(stage.value, "[yellow]running…[/]", _seconds(done.get(stage)))
        elif stage in done:
            table.add_row(stage.value, "[green]done[/]", _seconds(done[stage]))
        else:
            table.add_row(stage.value, "[dim]waiting[/]", "")
    if status is not None and len(status.attempts) > 1:
        for attempt in status.attempts:
            table.add_row(f"attempt {attempt.attempt}", _verdict(attempt.verdict), "")
    if summary is not None and summary.outcome.finished:
        colour = "green" if summary.outcome is DeploymentOutcome.LIVE else "red"
        table.caption = f"[{colour}]{summary.outcome.value}[/]: {escape(summary.message)}"
    return table


def attempts_table(deployments: Iterable[DeploymentSummary]) -> Table | None:
    """The repair attempts of ``deployments`` (None when none was repaired): which bundle
    each attempt judged, the gate's verdict and its summary."""
    table = Table("deployment", "attempt", "verdict", "bundle", "report", "summary")
    table.title = "repair attempts (a generated bundle that failed the QA gate, repaired)"
    for deployment in deployments:
        for attempt in deployment.attempts:
            table.add_row(
                deployment.deployment_id,
                str(attempt.attempt),
                _verdict(attempt.verdict),
                _short_hash(attempt.bundle_hash),
                _short_hash(attempt.report_hash),
                escape(attempt.summary),
            )
    return table if table.row_count else None


def _verdict(verdict: str) -> str:
    colour = _VERDICT_COLOUR.get(verdict, "red")
    return f"[{colour}]{verdict}[/]"


def _seconds(seconds: float | None) -> str:
    return "" if seconds is None else f"{seconds:.2f}"


def _short_hash(digest: str | None) -> str:
    return digest[:12] if digest else "-"


async def follow(
    client: Client,
    app_id: str,
    deployment_id: str,
    workflow_id: str,
    console: Console,
    *,
    poll_s: float = 0.4,
    queue_position: Callable[[], Awaitable[int | None]] | None = None,
) -> DeploymentSummary:
    """Show the stages until the deployment finishes; returns its final summary.
    ``queue_position`` reads the QA gate's place in its worker's queue, if known."""
    status: DeploymentStatus | None = None
    summary: DeploymentSummary | None = None
    with Live(render(None, None), console=console, refresh_per_second=8, transient=False) as live:
        while True:
            try:
                status = await deployment_status(client, workflow_id)
            except PipelineRequestError:
                status = None  # still queued behind another deployment of this app
            app = await app_status(client, app_id)
            summary = next((d for d in app.deployments if d.deployment_id == deployment_id), None)
            waiting = None
            if queue_position is not None and status is not None and status.stage is Stage.TESTING:
                waiting = await queue_position()
            live.update(render(status, summary, waiting), refresh=True)
            if summary is not None and summary.outcome.finished:
                return summary
            await asyncio.sleep(poll_s)

"""The deployment progress view stops, with the verdict, on every way a deployment can end."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from rich.console import Console

from cli.progress import render
from schemas.deployment import DeploymentOutcome, DeploymentSummary

ENDED = [
    o for o in DeploymentOutcome if o not in (DeploymentOutcome.PENDING, DeploymentOutcome.RUNNING)
]


def _summary(outcome: DeploymentOutcome) -> DeploymentSummary:
    return DeploymentSummary(
        deployment_id="d1",
        workflow_id="deploy-x-d1",
        source="bundle",
        outcome=outcome,
        message="QA gate failed: tests: 1 failing",
        requested_at=datetime(2026, 1, 1, tzinfo=UTC),
    )


@pytest.mark.parametrize("outcome", ENDED)
def test_every_ending_outcome_is_finished_and_shown(outcome: DeploymentOutcome) -> None:
    assert outcome.finished
    console = Console(width=200, record=True)
    console.print(render(None, _summary(outcome)))
    assert f"{outcome.value}: QA gate failed" in console.export_text()


@pytest.mark.parametrize("outcome", [DeploymentOutcome.PENDING, DeploymentOutcome.RUNNING])
def test_a_deployment_under_way_is_not_finished(outcome: DeploymentOutcome) -> None:
    assert not outcome.finished
    console = Console(width=200, record=True)
    console.print(render(None, _summary(outcome)))
    assert "QA gate failed" not in console.export_text()

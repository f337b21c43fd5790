"""Saved histories replay against the current workflow code (so non-determinism fails CI)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from temporalio import workflow
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

# This module defines a workflow, so the sandbox re-imports it: pass these through
# (cryptography's native module, behind the converter, cannot be imported twice).
with workflow.unsafe.imports_passed_through():
    from schemas.deployment import DeploymentInput, DeploymentResult
    from temporal import names
    from temporal.converter import data_converter
    from workers.replay import replay
    from workflows.app import AppWorkflow
    from workflows.deployment import DeploymentWorkflow

HISTORIES = Path(__file__).parent.parent / "histories"


def _histories() -> list[WorkflowHistory]:
    return [
        WorkflowHistory.from_json(path.stem, json.loads(path.read_text()))
        for path in sorted(HISTORIES.glob("*.json"))
    ]


@pytest.mark.parametrize(
    "generation", ["v1", "v2", "v3", "v4", "v5", "v6", "v7", "v8", "v9", "v10", "v11", "v12", "v13"]
)
def test_the_saved_histories_cover_the_main_paths(generation: str) -> None:
    """v1: before the five-stage QA gate (patched); v2: with it; v3: with refreshes and
    master key rotation; v4: with retirement (deleted apps), the anomaly scan and the
    privacy export; v5: with the app's visible text moderated; v6: the backup round and
    the privacy erasure; v7: invalid signals refused and recorded, the scheduled mail
    delivery, and a generated bundle failing the gate before repairs existed; v8: the
    generator repairing a generated bundle (live on attempt 2, every repair failing,
    a repair changing nothing) and a hand-written bundle rejected without one; v9: the QA
    verdict in the deployment's memo, gate passed and failed; v10: a rollback and a refresh
    placed by the placement activity; v11: the gate passed and failed, a review, a
    rollback and a retirement publishing their status to the read model; v12: the QA
    stages carrying their gate's ticket for the workers' admission, one gate and a
    repair's two; v13: an app moved off a lost host (no stop on its queue) and a plain
    refresh. Every generation must keep replaying."""
    names_ = {p.name.rsplit("-", 2)[0] for p in HISTORIES.glob(f"{generation}-*.json")}
    if generation == "v5":  # only what the content-moderation patch changed
        assert {"v5-happy", "v5-content-blocked"} <= names_
        return
    if generation == "v6":  # only the workflows new in it
        assert names_ == {"v6-backup", "v6-privacy-erasure"}
        return
    if generation == "v7":  # the refused-signals patch and the new mail workflow
        assert names_ == {"v7-refused-signal", "v7-mail-delivery", "v7-qa-failed"}
        return
    if generation == "v8":  # the generation-repair patch
        assert names_ == {
            "v8-repaired",
            "v8-repairs-exhausted",
            "v8-repair-unchanged",
            "v8-bundle-rejected",
        }
        return
    if generation == "v9":  # the QA memo patch: a gate passed, a gate failed
        assert names_ == {"v9-happy", "v9-qa-rejected"}
        return
    if generation == "v10":  # the placement patch: a rollback and a refresh placed
        assert names_ == {"v10-rollback-signal", "v10-refresh"}
        return
    if generation == "v11":  # the status read model patch
        assert names_ == {
            "v11-happy",
            "v11-qa-rejected",
            "v11-review-approved",
            "v11-rollback-signal",
            "v11-retire",
        }
        return
    if generation == "v12":  # the QA admission patch: one gate, a repair's two
        assert names_ == {"v12-happy", "v12-repaired"}
        return
    if generation == "v13":  # the lost-host patch: a move off a lost host, a refresh
        assert names_ == {"v13-host-lost", "v13-refresh"}
        return
    scenarios = {"happy", "rejected", "rolled-back", "rollback-signal", "review-approved"}
    if generation in ("v3", "v4"):
        scenarios |= {"refresh", "key-rotation"}
    if generation == "v4":
        scenarios |= {"retire", "anomaly-scan", "privacy-export"}
    assert {f"{generation}-{s}" for s in scenarios} <= names_


@pytest.mark.reliability(
    "Histories",
    done="Replay every saved history (eight generations of the workflows) against today's code",
)
async def test_saved_histories_replay_cleanly() -> None:
    """Every saved history replays without a non-determinism error."""
    outcomes = await replay(_histories())
    assert len(outcomes) == len(list(HISTORIES.glob("*.json")))
    assert [o for o in outcomes if o.error] == []


@workflow.defn(name=names.DEPLOYMENT_WORKFLOW_TYPE)
class ReorderedDeploymentWorkflow(DeploymentWorkflow):
    """A careless change: picks the runtime host before running the tests."""

    @workflow.run
    async def run(self, input: DeploymentInput) -> DeploymentResult:
        assert input.prompt is not None
        await self._moderate(input.prompt)
        bundle_hash = await self._generate(input.prompt)
        host = await self._select_host()
        qa = await self._run_qa_gate(bundle_hash)
        release = await self._roll_out(host, bundle_hash, qa.evidence_id)
        return DeploymentResult(
            deployment_id=input.deployment_id,
            release=release,
            qa_report_hash=qa.report_hash,
            timings=[],
        )


@pytest.mark.reliability(
    "Histories",
    done="Replay a saved history against a copy of the workflow with two steps swapped",
)
async def test_a_reordered_workflow_fails_replay() -> None:
    """The replay fails with a non-determinism error: the check can fail."""
    history = next(h for h in _histories() if h.workflow_id == "v2-happy-1-deploy")
    replayer = Replayer(
        workflows=[AppWorkflow, ReorderedDeploymentWorkflow], data_converter=data_converter()
    )
    with pytest.raises(workflow.NondeterminismError):
        await replayer.replay_workflow(history)

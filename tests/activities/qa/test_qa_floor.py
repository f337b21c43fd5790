"""The QA stages apply the app's floor whatever the deployment asked for: a workflow
started directly with a Temporal client (no API check) cannot switch the gate off, and an
operator's override is what lowers it (real PostgreSQL, real bandit)."""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.testing import ActivityEnvironment

from activities.qa.evidence import EvidenceService
from activities.qa.gate import parse_stage_report
from activities.qa_activities import QAActivities, QAReportActivities
from api.report_html import render_report
from runtime.envs import EnvBuilder
from schemas.audit import Actor
from schemas.qa import (
    QAGateReport,
    QAPolicy,
    QAStageInput,
    RecordQAReportInput,
    StaticReport,
    effective_policy,
)
from schemas.settings import Settings
from store.artifacts import ArtifactStore
from store.audit import AuditLog
from store.bundle_cache import BundleCache
from store.bundles import make_bundle
from store.db import Database
from store.qa_policy_overrides import QAPolicyOverrides
from store.qa_reports import QAReportRepository
from workers.wiring import evidence_keys

EVAL_APP = {
    "main.py": "def calc(expr):\n    return eval(expr)\n",  # bandit B307: MEDIUM, HIGH confidence
    "requirements.txt": "\n",
    "tests/test_main.py": "import main\n\ndef test_calc():\n    assert main.calc('1+1') == 2\n",
}
LAX = QAPolicy(
    mutation_threshold=0,
    min_mutable_fraction=0,
    fuzz_examples=1,
    bandit_fail_severity="HIGH",
    bandit_fail_severity_high_confidence="HIGH",  # eval would pass
)


class World:
    def __init__(self, db: Database, tmp_path: Path) -> None:
        self.settings = Settings(data_dir=tmp_path / "data")
        self.artifacts = ArtifactStore(db)
        self.bundles = BundleCache(self.artifacts, tmp_path / "bundles")
        self.overrides = QAPolicyOverrides(db, AuditLog(db))
        self.qa = QAActivities(
            self.bundles,
            self.artifacts,
            EnvBuilder(tmp_path / "envs"),
            self.settings,
            self.overrides,
        )

    async def static(self, app_id: str | None, policy: QAPolicy | None = LAX) -> str:
        bundle_hash = await self.bundles.put(make_bundle(EVAL_APP))
        outcome = await ActivityEnvironment().run(
            self.qa.run_static, QAStageInput(bundle_hash=bundle_hash, policy=policy, app_id=app_id)
        )
        return outcome.verdict


@pytest.fixture
def world(db: Database, tmp_path: Path) -> World:
    return World(db, tmp_path)


@pytest.mark.parametrize("app_id", ["eval-app", None], ids=["an-app", "no-app-id"])
async def test_a_lax_policy_sent_past_the_api_is_raised_to_the_floor(
    world: World, app_id: str | None
) -> None:
    assert await world.static(app_id, policy=None) == "fail"  # the platform's own policy
    assert await world.static(app_id) == "fail"  # the lax request changes nothing


async def test_an_operators_override_lowers_only_its_apps_floor(world: World) -> None:
    platform = world.settings.qa_policy()
    await world.overrides.set(
        "eval-app",
        platform.model_copy(update={"bandit_fail_severity_high_confidence": "HIGH"}),
        reason="a calculator that evals on purpose",
        actor=Actor(user_id="ops"),
        platform=platform,
    )

    assert await world.static("eval-app") == "pass"
    assert await world.static("other-app") == "fail"
    assert await world.static(None) == "fail"


async def test_the_report_records_the_policy_the_stages_applied(world: World, db: Database) -> None:
    declared = 'egress = ["api.example.com:443", "*.tiles.example.org:443"]\n'
    bundle_hash = await world.bundles.put(make_bundle({**EVAL_APP, "microapp.toml": declared}))
    stage = await ActivityEnvironment().run(
        world.qa.run_static, QAStageInput(bundle_hash=bundle_hash, policy=LAX, app_id="eval-app")
    )
    reports = QAReportRepository(db)
    recorder = QAReportActivities(
        world.artifacts,
        reports,
        EvidenceService(reports, world.artifacts, evidence_keys(world.settings)),
        world.settings,
        world.overrides,
    )

    outcome = await ActivityEnvironment().run(
        recorder.record_qa_report,
        RecordQAReportInput(
            bundle_hash=bundle_hash,
            deployment_id="d1",
            app_id="eval-app",
            owner_id="u1",
            stages=[stage],
            policy=LAX,
        ),
    )

    report = parse_stage_report(await world.artifacts.get(stage.report_hash))
    assert isinstance(report, StaticReport) and "MEDIUM with HIGH" in report.policy
    gate = QAGateReport.model_validate_json(await world.artifacts.get(outcome.report_hash))
    assert gate.policy == effective_policy(LAX, world.settings.qa_policy())
    assert gate.policy.mutation_threshold == 0.7 and gate.policy.fuzz_examples == 50
    # The declared egress is shown with the report (operators approve it per app).
    assert gate.egress == ["api.example.com:443", "*.tiles.example.org:443"]
    page = render_report(gate, title="report")
    assert "<h2>Egress</h2>" in page and "<code>*.tiles.example.org:443</code>" in page


@pytest.mark.parametrize(
    ("field", "weaker", "stricter"),
    [
        ("mutation_threshold", 0.5, 0.9),
        ("min_mutable_fraction", 0.2, 0.9),
        ("fuzz_examples", 10, 100),
        ("bandit_fail_severity", "HIGH", "LOW"),
        ("bandit_fail_severity_high_confidence", "HIGH", "LOW"),
    ],
)
def test_each_knob_has_its_direction(field: str, weaker: object, stricter: object) -> None:
    floor = QAPolicy(
        mutation_threshold=0.7,
        min_mutable_fraction=0.5,
        fuzz_examples=50,
        bandit_fail_severity="MEDIUM",
        bandit_fail_severity_high_confidence="MEDIUM",
    )
    lax, strict = (
        floor.model_copy(update={field: weaker}),
        floor.model_copy(update={field: stricter}),
    )

    assert [line.split()[0] for line in lax.weaker_than(floor)] == [field]
    assert strict.weaker_than(floor) == [] and floor.weaker_than(floor) == []
    assert lax.at_least(floor) == floor
    assert strict.at_least(floor) == strict
    # Timeouts are not gate strength: a stage that runs out of time fails.
    quick = floor.model_copy(update={"mutation_timeout_s": 5, "fuzz_timeout_s": 5})
    assert quick.weaker_than(floor) == [] and quick.at_least(floor) == quick

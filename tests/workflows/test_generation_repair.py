"""The repair loop on the time-skipping server: DeploymentWorkflow with the real generation,
repair, moderation and QA-report activities, against a chat-completions server on
127.0.0.1 and a real PostgreSQL. The five QA stages are scripted from the bundle's text
(weak tests fail mutation with a surviving mutant, ``eval`` fails bandit) and store real
stage reports; the real gate judges the same bundles in the integration suite."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import openai
import pytest
from temporalio import activity
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowFailureError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.generation_activities import GenerationActivities, RepairActivities
from activities.moderation_activities import ModerationActivities
from activities.qa.evidence import EvidenceService
from activities.qa_activities import QAReportActivities
from pipeline.operations import app_status, deployment_status, request_deployment
from schemas.deployment import (
    AppStatus,
    DeploymentOutcome,
    DeploymentResult,
    DeployRequest,
    GenerationAttempt,
)
from schemas.qa import (
    DependencyReport,
    FuzzReport,
    Mutant,
    MutationReport,
    QAStageInput,
    QAStageOutcome,
    RunTestsInput,
    StageReport,
    StaticFinding,
    StaticReport,
    TestOutcome,
    TestRun,
    TestsReport,
)
from schemas.settings import Settings
from store.artifacts import ArtifactStore
from store.bundle_cache import BundleCache
from store.bundles import make_bundle
from store.db import Database
from store.generation_repairs import GenerationRepairs
from store.moderation_log import ModerationLog
from store.qa_reports import QAReportRepository
from temporal import names
from tests.activities.generation.chat_server import (
    API_KEY,
    MODEL,
    ChatServer,
    bundle_answer,
    messages_text,
    serve_chat,
)
from tests.activities.generation.repair_bundles import (
    FIXED,
    FLAWED,
    HOSTILE,
    carries_the_findings,
    fix_only_with_findings,
)
from tests.activities.moderation.test_visible_text import PHISHING_PAGE
from tests.workflows.pipeline_fakes import HOST, FakePipeline
from workers.wiring import evidence_keys, moderator
from workflows.registry import ALL_WORKFLOWS

PROMPT = "split the bill at our team lunch, tip included"
SURVIVOR_DIFF = (
    '--- main.py\n+++ main.py\n@@ -64,2 +64,2 @@\n-    return "<h1>Tips</h1>'
    + HOSTILE
    + '"\n+    return "XX<h1>Tips</h1>'
    + HOSTILE
    + 'XX"'
)
SCRIPTED = {
    "moderate",
    "moderate_bundle_text",
    "generate",
    "repair",
    "repair_budget",
    "run_tests",
    "run_mutation",
    "run_fuzz",
    "run_static",
    "run_deps",
    "record_qa_report",
}


@dataclass
class ScriptedGate:
    """The QA stages, judged from the bundle's text; their reports are stored for real."""

    bundles: BundleCache
    artifacts: ArtifactStore
    fail_everything: bool = False
    judged: list[str] = field(default_factory=list)

    def activities(self) -> list[Callable[..., object]]:
        return [self.run_tests, self.run_mutation, self.run_fuzz, self.run_static, self.run_deps]

    async def _stage(self, name: str, bundle_hash: str) -> QAStageOutcome:
        bundle = await self.bundles.load(bundle_hash)
        main = bundle.file("main.py") or ""
        tests = "".join(f.content for f in bundle.files if f.path.startswith("tests/"))
        report = self._report(name, main, tests)
        digest = await self.artifacts.put(f"qa-{name}", report.model_dump_json().encode())
        if name == "tests":
            self.judged.append(bundle_hash)
        return QAStageOutcome(
            stage=name, verdict=report.verdict, summary=report.reason, report_hash=digest
        )

    def _report(self, name: str, main: str, tests: str) -> StageReport:
        if name == "tests":
            broken = self.fail_everything
            return TestsReport(
                verdict="fail" if broken else "pass",
                reason="tests/test_main.py::test_x failed in every run" if broken else "passed",
                runs=[
                    TestRun(
                        index=1,
                        order="fixed",
                        exit_code=int(broken),
                        duration_s=0.1,
                        outcomes={
                            "tests/test_main.py::test_x": TestOutcome.FAILED
                            if broken
                            else TestOutcome.PASSED
                        },
                        log_tail="FAILED tests/test_main.py::test_x" if broken else "",
                    )
                ],
                failing=["tests/test_main.py::test_x"] if broken else [],
            )
        if name == "mutation":
            weak = "test_tip_rounds_to_the_nearest_cent" not in tests
            return MutationReport(
                verdict="fail" if weak else "pass",
                reason="score 20% below 70%" if weak else "score 90%",
                score=0.2 if weak else 0.9,
                threshold=0.7,
                killed=1 if weak else 9,
                survived=4 if weak else 1,
                min_mutable_fraction=0.5,
                survivors=[
                    Mutant(name="main.x_banner__mutmut_1", status="survived", diff=SURVIVOR_DIFF)
                ]
                if weak
                else [],
            )
        if name == "static":
            lines = main.splitlines()
            evals = [i for i, line in enumerate(lines, 1) if "eval(" in line]
            return StaticReport(
                verdict="fail" if evals else "pass",
                reason="1 gating finding" if evals else "no findings",
                files_scanned=2,
                policy="HIGH, or MEDIUM with HIGH confidence",
                findings=[
                    StaticFinding(
                        file="main.py",
                        line=line,
                        test_id="B307",
                        test_name="blacklist",
                        severity="MEDIUM",
                        confidence="HIGH",
                        text="Use of possibly insecure function - consider ast.literal_eval.",
                        gating=True,
                    )
                    for line in evals
                ],
            )
        if name == "fuzz":
            return FuzzReport(verdict="pass", reason="no failures", seed=1, examples_per_target=5)
        return DependencyReport(verdict="pass", reason="no advisories", database="test")

    @activity.defn(name=names.ACTIVITY_RUN_TESTS)
    async def run_tests(self, input: RunTestsInput) -> QAStageOutcome:
        return await self._stage("tests", input.bundle_hash)

    @activity.defn(name=names.ACTIVITY_RUN_MUTATION)
    async def run_mutation(self, input: QAStageInput) -> QAStageOutcome:
        return await self._stage("mutation", input.bundle_hash)

    @activity.defn(name=names.ACTIVITY_RUN_FUZZ)
    async def run_fuzz(self, input: QAStageInput) -> QAStageOutcome:
        return await self._stage("fuzz", input.bundle_hash)

    @activity.defn(name=names.ACTIVITY_RUN_STATIC)
    async def run_static(self, input: QAStageInput) -> QAStageOutcome:
        return await self._stage("static", input.bundle_hash)

    @activity.defn(name=names.ACTIVITY_RUN_DEPS)
    async def run_deps(self, input: QAStageInput) -> QAStageOutcome:
        return await self._stage("deps", input.bundle_hash)


@dataclass
class World:
    """The running workers and what they touch."""

    client: Client
    db: Database
    chat: ChatServer
    gate: ScriptedGate
    bundles: BundleCache
    fake: FakePipeline

    async def deploy(self, app_id: str, prompt: str | None = PROMPT, **request: Any) -> str:
        deploy = DeployRequest(
            request_id=uuid.uuid4().hex, owner_id="alice", prompt=prompt, **request
        )
        return await request_deployment(self.client, app_id, deploy)

    async def history_activities(self, workflow_id: str) -> list[str]:
        """The activities the deployment scheduled, in order."""
        history = await self.client.get_workflow_handle(workflow_id).fetch_history()
        return [
            e.activity_task_scheduled_event_attributes.activity_type.name
            for e in history.events
            if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
        ]


@pytest.fixture(scope="module")
def chat() -> Iterator[ChatServer]:
    with serve_chat() as server:
        yield server


@contextlib.asynccontextmanager
async def _world(
    env: WorkflowEnvironment,
    db: Database,
    tmp_path: Path,
    chat: ChatServer,
    *,
    offline: bool = False,
    repairs_allowed: int = 2,
) -> AsyncIterator[World]:
    settings = Settings(data_dir=tmp_path / "data", openai_moderation=False)
    artifacts = ArtifactStore(db)
    bundles = BundleCache(artifacts, tmp_path / "bundles")
    client = (
        None if offline else openai.AsyncOpenAI(api_key=API_KEY, base_url=chat.base_url, timeout=10)
    )
    reports = QAReportRepository(db)
    generation = GenerationActivities(bundles, client, MODEL)
    repair = RepairActivities(
        bundles, artifacts, GenerationRepairs(db), client, MODEL, repairs_allowed=repairs_allowed
    )
    moderation = ModerationActivities(moderator(settings, None), ModerationLog(db), None, bundles)
    record = QAReportActivities(
        artifacts, reports, EvidenceService(reports, artifacts, evidence_keys(settings)), settings
    )
    gate = ScriptedGate(bundles, artifacts)
    fake = FakePipeline()
    runtime = [a for a in fake.activities() if getattr(a, "__name__", "") not in SCRIPTED]
    real: list[Callable[..., object]] = [
        generation.generate_bundle,
        repair.repair_bundle,
        repair.repair_budget,
        moderation.moderate_prompt,
        moderation.moderate_bundle_text,
        record.record_qa_report,
    ]
    async with (
        Worker(
            env.client,
            task_queue=names.PIPELINE_TASK_QUEUE,
            workflows=list(ALL_WORKFLOWS),
            activities=[*runtime, *real],
        ),
        Worker(env.client, task_queue=names.QA_TASK_QUEUE, activities=gate.activities()),
        Worker(env.client, task_queue=names.runtime_task_queue(HOST), activities=runtime),
    ):
        yield World(env.client, db, chat, gate, bundles, fake)


async def _eventually(check: Callable[[], Awaitable[bool]], within: float = 20.0) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while True:
        with contextlib.suppress(RPCError, AssertionError, StopIteration):
            if await check():
                return
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


async def _started(client: Client, workflow_id: str) -> None:
    async def exists() -> bool:
        await client.get_workflow_handle(workflow_id).describe()
        return True

    await _eventually(exists)


async def _result(client: Client, workflow_id: str) -> DeploymentResult:
    await _started(client, workflow_id)
    result: DeploymentResult = await client.get_workflow_handle(
        workflow_id, result_type=DeploymentResult
    ).result()
    return result


async def _failure(client: Client, workflow_id: str) -> ApplicationError:
    await _started(client, workflow_id)
    with pytest.raises(WorkflowFailureError) as info:
        await client.get_workflow_handle(workflow_id).result()
    assert isinstance(info.value.cause, ApplicationError)
    return info.value.cause


async def _settled(client: Client, app_id: str) -> AppStatus:
    found: list[AppStatus] = []

    async def idle() -> bool:
        found[:] = [await app_status(client, app_id)]
        return found[0].current_deployment is None and found[0].pending == 0

    await _eventually(idle)
    return found[0]


def _verdicts(attempts: list[GenerationAttempt]) -> list[tuple[int, str]]:
    return [(a.attempt, a.verdict) for a in attempts]


async def test_a_flawed_bundle_is_repaired_with_its_findings_and_goes_live_on_attempt_2(
    env: WorkflowEnvironment, db: Database, tmp_path: Path, chat: ChatServer
) -> None:
    chat.reset(fix_only_with_findings)
    async with _world(env, db, tmp_path, chat) as world:
        workflow_id = await world.deploy("tips")
        result = await _result(env.client, workflow_id)
        app = await _settled(env.client, "tips")
        scheduled = await world.history_activities(workflow_id)
        status = await deployment_status(env.client, workflow_id)

    generation, repair = chat.asked()
    assert not carries_the_findings(generation["json"])
    # The repair request carries the findings: the bandit test id and the mutant's diff.
    text = messages_text(repair)
    eval_line = next(
        i for i, line in enumerate(FLAWED["main.py"].splitlines(), 1) if "eval(" in line
    )
    assert f"main.py:{eval_line} B307 (blacklist)" in text
    assert SURVIVOR_DIFF in text
    assert "- mutation: score 20% below 70%" in text and "- static: 1 gating finding" in text
    assert API_KEY not in text

    assert _verdicts(result.attempts) == [(1, "fail"), (2, "pass")]
    first, second = result.attempts
    assert result.release.bundle_hash == second.bundle_hash != first.bundle_hash
    assert result.qa_report_hash == second.report_hash
    assert (await world.bundles.load(second.bundle_hash)).file("main.py") == FIXED["main.py"]
    assert world.gate.judged == [first.bundle_hash, second.bundle_hash]
    assert status.attempts == result.attempts and status.repairs_allowed == 2
    [summary] = app.deployments
    assert summary.outcome is DeploymentOutcome.LIVE and summary.attempts == result.attempts

    # Each bundle was moderated before it was judged; one repair; two reports, one evidence.
    assert [a for a in scheduled if a in ("moderate_bundle_text", "repair_bundle")] == [
        "moderate_bundle_text",
        "repair_bundle",
        "moderate_bundle_text",
    ]
    deployment_id = workflow_id.removeprefix("deploy-tips-")
    reports = await QAReportRepository(db).reports(deployment_id)
    assert [(r.attempt, r.verdict, r.bundle_hash) for r in reports] == [
        (1, "fail", first.bundle_hash),
        (2, "pass", second.bundle_hash),
    ]
    assert [r.report_sha256 for r in reports] == [first.report_hash, second.report_hash]
    [repaired] = await GenerationRepairs(db).for_deployment("tips", deployment_id)
    assert (repaired.attempt, repaired.bundle_hash) == (2, second.bundle_hash)
    assert result.release.evidence_id is not None


@pytest.mark.parametrize(("requested", "worker", "repairs"), [(3, 1, 3), (None, 1, 1)])
async def test_a_model_that_never_fixes_it_gets_exactly_the_allowed_repairs(
    env: WorkflowEnvironment,
    db: Database,
    tmp_path: Path,
    chat: ChatServer,
    requested: int | None,
    worker: int,
    repairs: int,
) -> None:
    counter = itertools.count()  # each answer differs, and each is as flawed as the first
    chat.reset(lambda body: bundle_answer({**FLAWED, "NOTES.md": f"try {next(counter)}\n"}))
    async with _world(env, db, tmp_path, chat, repairs_allowed=worker) as world:
        workflow_id = await world.deploy("tips", generation_repairs=requested)
        error = await _failure(env.client, workflow_id)
        app = await _settled(env.client, "tips")
        scheduled = await world.history_activities(workflow_id)
        status = await deployment_status(env.client, workflow_id)

    asked = chat.asked()
    assert len(asked) == 1 + repairs
    assert all(carries_the_findings(r["json"]) for r in asked[1:])
    assert scheduled.count("repair_bundle") == repairs
    assert scheduled.count("generation_repair_budget") == (1 if requested is None else 0)
    assert error.type == names.ERROR_QA_GATE_FAILED
    assert f"QA gate failed on attempt {repairs + 1} (after repairs)" in error.message
    [summary] = app.deployments
    assert summary.outcome is DeploymentOutcome.REJECTED_QA
    assert _verdicts(summary.attempts) == [(n, "fail") for n in range(1, repairs + 2)]
    assert len({a.bundle_hash for a in summary.attempts}) == repairs + 1
    assert status.qa_report_hash == summary.attempts[-1].report_hash  # the last report
    deployment_id = workflow_id.removeprefix("deploy-tips-")
    rows = await QAReportRepository(db).reports(deployment_id)
    assert [(r.attempt, r.verdict) for r in rows] == [(n, "fail") for n in range(1, repairs + 2)]


async def test_a_hand_written_bundle_that_fails_the_gate_is_never_rewritten(
    env: WorkflowEnvironment, db: Database, tmp_path: Path, chat: ChatServer
) -> None:
    chat.reset(fix_only_with_findings)
    async with _world(env, db, tmp_path, chat) as world:
        digest = await world.bundles.put(make_bundle(FLAWED))
        workflow_id = await world.deploy(
            "handmade", prompt=None, bundle_hash=digest, generation_repairs=2
        )
        error = await _failure(env.client, workflow_id)
        app = await _settled(env.client, "handmade")
        scheduled = await world.history_activities(workflow_id)
        status = await deployment_status(env.client, workflow_id)

    assert error.type == names.ERROR_QA_GATE_FAILED
    assert chat.asked() == []
    assert "repair_bundle" not in scheduled and "generation_repair_budget" not in scheduled
    assert app.deployments[0].outcome is DeploymentOutcome.REJECTED_QA
    assert status.attempts == []
    assert world.gate.judged == [digest]


async def test_a_repair_that_gives_back_a_judged_bundle_ends_the_repairs(
    env: WorkflowEnvironment, db: Database, tmp_path: Path, chat: ChatServer
) -> None:
    """The offline generator regenerates the same blueprint: one repair, then stop."""
    async with _world(env, db, tmp_path, chat, offline=True, repairs_allowed=5) as world:
        world.gate.fail_everything = True
        workflow_id = await world.deploy("blueprint")
        error = await _failure(env.client, workflow_id)
        scheduled = await world.history_activities(workflow_id)
        status = await deployment_status(env.client, workflow_id)

    assert error.type == names.ERROR_QA_GATE_FAILED
    assert scheduled.count("repair_bundle") == 1
    assert _verdicts(status.attempts) == [(1, "fail"), (2, "unchanged")]
    assert status.attempts[0].bundle_hash == status.attempts[1].bundle_hash
    assert len(world.gate.judged) == 1


async def test_a_repair_that_smuggles_in_a_phishing_page_is_blocked_before_the_gate(
    env: WorkflowEnvironment, db: Database, tmp_path: Path, chat: ChatServer
) -> None:
    def reply(body: dict[str, Any]) -> str:
        if carries_the_findings(body):
            return bundle_answer({**FIXED, "static/index.html": PHISHING_PAGE})
        return bundle_answer(FLAWED)

    chat.reset(reply)
    async with _world(env, db, tmp_path, chat) as world:
        workflow_id = await world.deploy("tips")
        error = await _failure(env.client, workflow_id)
        app = await _settled(env.client, "tips")

    assert error.type == names.ERROR_PROMPT_BLOCKED
    assert "the app's content was blocked" in error.message
    [summary] = app.deployments
    assert summary.outcome is DeploymentOutcome.REJECTED
    assert _verdicts(summary.attempts) == [(1, "fail"), (2, "blocked")]
    assert "blocked" in summary.attempts[1].summary
    assert len(world.gate.judged) == 1  # the repaired bundle never reached the gate
    assert not any(c.startswith("start:") for c in world.fake.calls)
    logged = await ModerationLog(db).search(verdict="block")
    assert [e.app_id for e in logged] == ["tips"] and "Chase" in (logged[0].prompt or "")


async def test_no_repair_when_the_deployment_asks_for_none(
    env: WorkflowEnvironment, db: Database, tmp_path: Path, chat: ChatServer
) -> None:
    chat.reset(fix_only_with_findings)
    async with _world(env, db, tmp_path, chat) as world:
        workflow_id = await world.deploy("tips", generation_repairs=0)
        error = await _failure(env.client, workflow_id)
        scheduled = await world.history_activities(workflow_id)
        status = await deployment_status(env.client, workflow_id)

    assert error.message.startswith("QA gate failed: ")
    assert len(chat.asked()) == 1
    assert "repair_bundle" not in scheduled and "generation_repair_budget" not in scheduled
    assert _verdicts(status.attempts) == [(1, "fail")] and status.repairs_allowed == 0


async def test_a_generator_that_cannot_repair_leaves_the_gates_verdict(
    env: WorkflowEnvironment, db: Database, tmp_path: Path, chat: ChatServer
) -> None:
    def reply(body: dict[str, Any]) -> str | tuple[int, dict[str, Any]]:
        if carries_the_findings(body):
            return 503, {"error": {"message": "overloaded"}}
        return bundle_answer(FLAWED)

    chat.reset(reply)
    async with _world(env, db, tmp_path, chat) as world:
        workflow_id = await world.deploy("tips")
        error = await _failure(env.client, workflow_id)
        status = await deployment_status(env.client, workflow_id)

    assert error.type == names.ERROR_QA_GATE_FAILED
    assert len(chat.asked()) == 1 + 3  # the model gets three tries at the repair
    assert _verdicts(status.attempts) == [(1, "fail"), (2, "repair_failed")]
    assert "HTTP 503" in status.attempts[1].summary
    assert status.qa_report_hash == status.attempts[0].report_hash

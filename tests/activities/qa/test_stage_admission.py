"""A QA stage waits for its gate's admission heartbeating and holding no slot; cancelled
while waiting, it leaves the queue (the real stage activity, real PostgreSQL, real bandit,
the SDK's activity environment)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from temporalio.testing import ActivityEnvironment

from activities.qa_activities import QAActivities
from activities.qa_admission import QAAdmission
from runtime.envs import EnvBuilder
from schemas.qa import QAGateTicket, QAStageInput, QAStageOutcome
from schemas.settings import Settings
from store.artifacts import ArtifactStore
from store.bundle_cache import BundleCache
from store.bundles import make_bundle
from store.db import Database

pytestmark = pytest.mark.timeout(120)

APP = {
    "main.py": "def add(a, b):\n    return a + b\n",
    "requirements.txt": "\n",
    "tests/test_main.py": "import main\n\ndef test_add():\n    assert main.add(1, 2) == 3\n",
}
RUNNING = QAGateTicket(app_id="busy", deployment_id="d-running", owner_id="owner-a")
WAITING = QAGateTicket(app_id="calc", deployment_id="d-waiting", owner_id="owner-b")


@pytest.fixture
def admission() -> QAAdmission:
    return QAAdmission(1, linger_s=0)


async def _stage_input(
    db: Database, tmp_path: Path, admission: QAAdmission
) -> tuple[QAActivities, QAStageInput]:
    artifacts = ArtifactStore(db)
    bundles = BundleCache(artifacts, tmp_path / "bundles")
    bundle_hash = await bundles.put(make_bundle(APP))
    qa = QAActivities(
        bundles,
        artifacts,
        EnvBuilder(tmp_path / "envs"),
        Settings(data_dir=tmp_path / "data"),
        admission=admission,
    )
    return qa, QAStageInput(bundle_hash=bundle_hash, app_id="calc", gate=WAITING)


async def _until(check: Callable[[], bool], within_s: float = 10.0) -> None:
    deadline = time.monotonic() + within_s
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


async def test_a_waiting_stage_heartbeats_holds_no_slot_then_runs(
    db: Database, tmp_path: Path, admission: QAAdmission
) -> None:
    qa, stage = await _stage_input(db, tmp_path, admission)
    env = ActivityEnvironment()
    beats: list[object] = []
    env.on_heartbeat = lambda *details: beats.append(details)
    async with admission.admitted(RUNNING):  # another deployment's gate holds the core
        task = asyncio.create_task(env.run(qa.run_static, stage))
        await _until(lambda: len(beats) >= 2)  # 5 s apart: beyond the first one
        assert not task.done()
        assert admission.running == 1
        assert [(g.deployment_id, g.position) for g in admission.positions()] == [("d-waiting", 1)]
        waited = time.monotonic()
    outcome: QAStageOutcome = await task
    assert outcome.stage == "static" and outcome.verdict == "pass"
    assert outcome.duration_s < time.monotonic() - waited + 1  # its run, not its wait
    assert admission.running == 0 and admission.positions() == []


async def test_a_stage_cancelled_while_waiting_leaves_the_queue(
    db: Database, tmp_path: Path, admission: QAAdmission
) -> None:
    qa, stage = await _stage_input(db, tmp_path, admission)
    env = ActivityEnvironment()
    async with admission.admitted(RUNNING):
        task = asyncio.create_task(env.run(qa.run_static, stage))
        await _until(lambda: admission.positions() != [])
        env.cancel()  # the workflow was cancelled (or the stage timed out)
        with pytest.raises(asyncio.CancelledError):
            await task
        assert admission.positions() == []
        assert admission.running == 1
    assert admission.running == 0

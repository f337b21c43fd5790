"""`mb deploy --qa` is held to the app's QA floor (one line, nothing started) and
`mb qa-policy` lets an operator lower it, audited (real `mb` processes against real
PostgreSQL and Temporal's time-skipping server)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from store.apps import AppRepository
from store.audit import AuditLog
from store.db import Database
from temporal import names
from tests.workflows.pipeline_fakes import FakePipeline

ROOT = Path(__file__).parents[2]
APP = "legacy-app"


class Mb:
    def __init__(self, tmp_path: Path, db: Database, env: WorkflowEnvironment) -> None:
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("MB_")},
            "MB_DATA_DIR": str(tmp_path / "data"),
            "MB_TEMPORAL_ADDRESS": env.client.service_client.config.target_host,
            "MB_DATABASE_URL": db.conninfo,
            "PYTHONPATH": str(ROOT),
            "COLUMNS": "200",
        }

    def __call__(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "cli.main", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    def deploy(self, qa: str) -> subprocess.CompletedProcess[str]:
        return self("deploy", "a todo list for my team", "--app", APP, "--qa", qa, "--no-follow")


@pytest.fixture
def mb(tmp_path: Path, db: Database, env: WorkflowEnvironment, workers: FakePipeline) -> Mb:
    del workers  # the deployments it queues are run by the scripted workers
    return Mb(tmp_path, db, env)


async def _started(env: WorkflowEnvironment) -> bool:
    try:
        await env.client.get_workflow_handle(names.app_workflow_id(APP)).describe()
    except RPCError:
        return False
    return True


async def test_a_weaker_deploy_is_one_line_until_an_operator_lowers_the_floor(
    mb: Mb, db: Database, env: WorkflowEnvironment
) -> None:
    missing = mb(
        "qa-policy", "set", APP, "--policy", '{"mutation_threshold": 0.3}', "--reason", "x"
    )
    assert missing.returncode == 1 and "not found" in missing.stderr
    await AppRepository(db).ensure(APP, "local")

    refused = mb.deploy('{"mutation_threshold": 0.5}')
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert refused.stderr.count("\n") == 1 and "mutation_threshold 0.5" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert not await _started(env)
    invalid = mb.deploy('{"mutation_threshold": 2}')
    assert invalid.returncode == 1 and invalid.stderr.count("\n") == 1

    lowered = mb(
        "qa-policy", "set", APP, "--policy", '{"mutation_threshold": 0.3}',
        "--reason", "legacy code", "--operator", "ops",
    )  # fmt: skip
    assert lowered.returncode == 0, lowered.stderr
    [entry] = await AuditLog(db).search(action="qa.override.set")
    assert entry.actor == "ops" and entry.detail["reason"] == "legacy code"
    assert '"mutation_threshold": 0.3' in mb("qa-policy", "show", APP).stdout

    accepted = mb.deploy('{"mutation_threshold": 0.5}')
    assert accepted.returncode == 0, accepted.stderr
    assert await _started(env)
    assert mb.deploy('{"mutation_threshold": 0.2}').returncode == 1

    cleared = mb("qa-policy", "clear", APP, "--reason", "refactored", "--operator", "ops")
    assert cleared.returncode == 0, cleared.stderr
    assert [e.actor for e in await AuditLog(db).search(action="qa.override.clear")] == ["ops"]
    assert mb.deploy('{"mutation_threshold": 0.5}').returncode == 1

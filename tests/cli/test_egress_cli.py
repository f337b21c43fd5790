"""``mb egress``: an operator works the egress review queue and reads what the proxies
refused; ``mb alerts`` shows the latest refusals (real ``mb`` processes, real PostgreSQL)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from temporalio.testing import WorkflowEnvironment

from runtime.egress.decision_log import DecisionLog
from store.apps import AppRepository
from store.audit import AuditLog
from store.db import Database
from store.egress import EgressApprovals, EgressRecords
from tests.mb_env import mb_env
from tests.runtime.egress.decisions import UNDECLARED_REFUSAL


def mb(
    tmp_path: Path, db: Database, *args: str, temporal: str = "127.0.0.1:9"
) -> subprocess.CompletedProcess[str]:
    env = mb_env(
        tmp_path / "data",
        MB_DATABASE_URL=db.conninfo,
        MB_TEMPORAL_ADDRESS=temporal,  # the default is never contacted by mb egress
    )
    return subprocess.run(
        [sys.executable, "-m", "cli.main", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def test_an_operator_approves_and_reads_refusals(db: Database, tmp_path: Path) -> None:
    await AppRepository(db).ensure("wx-app", "alice")
    approvals = EgressApprovals(db, AuditLog(db))
    await approvals.approved("wx-app", 1, ["api.example.com:443"])

    listed = mb(tmp_path, db, "egress", "review")
    assert listed.returncode == 0 and "wx-app  v1  api.example.com:443" in listed.stdout

    refused = mb(tmp_path, db, "egress", "approve", "wx-app", "10.0.0.1:443", "--reason", "x")
    assert refused.returncode == 1 and "IP literal" in refused.stderr
    assert refused.stderr.count("\n") == 1
    missing = mb(
        tmp_path, db, "egress", "approve", "nope-app", "a.example.com:443", "--reason", "x"
    )
    assert missing.returncode == 1 and "not found" in missing.stderr

    ok = mb(
        tmp_path, db, "egress", "approve", "wx-app", "api.example.com:443", "--reason", "weather"
    )
    assert ok.returncode == 0, ok.stderr
    assert await approvals.approved("wx-app", 2, ["api.example.com:443"]) == {"api.example.com:443"}
    assert "no egress waits" in mb(tmp_path, db, "egress", "review").stdout

    log = DecisionLog(tmp_path / "decisions.jsonl")
    log.record(UNDECLARED_REFUSAL)
    await EgressRecords(db).ingest("local", log.path)
    refusals = mb(tmp_path, db, "egress", "refusals", "--json")
    assert [(r["app_id"], r["target"], r["reason"]) for r in json.loads(refusals.stdout)] == [
        ("wx-app", "evil.example.net", "not_declared")
    ]
    alerts = mb(tmp_path, db, "alerts")
    assert "latest egress refusals" in alerts.stdout
    assert "wx-app v1  evil.example.net:443  not_declared" in alerts.stdout
    shown = mb(tmp_path, db, "egress", "show", "wx-app")
    assert "evil.example.net" in shown.stdout and "refused" in shown.stdout


async def test_the_review_queue_lists_egress_waiting_for_approval(
    db: Database, tmp_path: Path, env: WorkflowEnvironment
) -> None:
    await EgressApprovals(db, AuditLog(db)).approved("wx-app", 3, ["api.example.com:443"])
    listed = mb(
        tmp_path, db, "review", "list", temporal=env.client.service_client.config.target_host
    )
    assert listed.returncode == 0, listed.stderr
    assert "nothing is waiting for review" in listed.stdout  # no flagged prompt
    assert "egress wx-app v3  api.example.com:443" in listed.stdout

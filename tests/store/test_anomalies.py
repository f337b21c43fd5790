"""The anomaly rules over a real database, and the scan activity: each rule trips at its
threshold and not below; alerts are raised once; a user over the blocked-prompt
threshold is suspended; operators are mailed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from temporalio.testing import ActivityEnvironment

from activities.anomalies import AnomalyActivities
from monitoring.operator_alerts import OperatorAlerts
from schemas.anomalies import AnomalyScanInput, Thresholds
from schemas.audit import Actor, AuditAction, AuditEvent, AuditOutcome
from schemas.moderation import ModerationResult
from schemas.settings import Settings
from store.anomalies import AlertLog, AnomalyRules
from store.artifacts import ArtifactStore
from store.audit import AuditLog
from store.db import Database
from store.mail_delivery import Mailer
from store.moderation_log import ModerationLog
from store.outbox import MailOutbox
from store.qa_reports import QAReportRepository
from store.users import UserRepository

LIMITS = Thresholds(window_s=86400)  # one day: the secret-read norm needs few past rows


async def _audit(
    db: Database,
    n: int,
    action: AuditAction,
    *,
    actor: str = "anonymous",
    ip: str | None = None,
    resource: str = "x",
    at: datetime | None = None,
) -> None:
    log = AuditLog(db, clock=(lambda: at) if at else None)
    for _ in range(n):
        await log.record(
            AuditEvent(
                actor=Actor(user_id=actor, client_ip=ip),
                action=action,
                resource=resource,
                outcome=AuditOutcome.DENIED,
            )
        )


async def _blocked(db: Database, owner: str, n: int) -> None:
    log = ModerationLog(db)
    for i in range(n):
        await log.record(
            deployment_id=f"{owner}-{i:04d}",
            owner_id=owner,
            app_id=f"{owner}-app",
            prompt="a PayPal lookalike",
            result=ModerationResult(verdict="block", reason="phishing", backend="local"),
        )


async def _failed_gates(db: Database, owner: str, n: int) -> None:
    digest = await ArtifactStore(db).put("qa-report", b"{}")
    reports = QAReportRepository(db)
    for i in range(n):
        await reports.save_report(
            deployment_id=f"{owner}-qa-{i:04d}",
            app_id=f"{owner}-app",
            owner_id=owner,
            bundle_hash="b" * 64,
            verdict="fail",
            report_sha256=digest,
            summary="mutation score 0.2",
        )


async def _egress_refusals(db: Database, app_id: str, n: int, reason: str) -> None:
    async with db.transaction() as conn:
        for _ in range(n):
            await conn.execute(
                "INSERT INTO egress_refusals (at, host, app_id, version, target, port, reason)"
                " VALUES (now(), 'local', %s, 1, 'evil.example.net', 443, %s)",
                (app_id, reason),
            )


async def test_each_rule_trips_at_its_threshold_and_not_below(db: Database) -> None:
    now = datetime.now(UTC)
    three_days_ago = now - timedelta(days=3)
    await _audit(db, 10, AuditAction.LOGIN_FAILED, ip="127.0.0.9")
    await _audit(db, 9, AuditAction.LOGIN_FAILED, ip="127.0.0.8")
    await _blocked(db, "mallory", 3)
    await _blocked(db, "bob", 2)
    # "spiky" reads 25 secrets today and never did before; "busy" does so every day.
    await _audit(db, 25, AuditAction.SECRET_REVEAL, actor="spiky")
    await _audit(db, 40, AuditAction.SECRET_REVEAL, actor="busy", at=three_days_ago)
    await _audit(db, 25, AuditAction.SECRET_REVEAL, actor="busy")
    await _audit(db, 3, AuditAction.RATE_LIMITED, actor="eve", resource="user:eve")
    await _audit(db, 2, AuditAction.RATE_LIMITED, resource="ip:127.0.0.7")
    await _failed_gates(db, "frank", 5)
    await _failed_gates(db, "gus", 4)
    await _egress_refusals(db, "prober-app", 12, "not_declared")
    await _egress_refusals(db, "prober-app", 8, "denied_address")
    await _egress_refusals(db, "careful-app", 19, "ip_literal")
    await _egress_refusals(db, "busy-app", 30, "rate_limited")  # over budget, not probing
    # gina logged in from .1 before and from .2 now; ivy from .1 both times; hank once.
    await _audit(db, 1, AuditAction.LOGIN, actor="gina", ip="127.0.0.1", at=three_days_ago)
    await _audit(db, 1, AuditAction.LOGIN, actor="ivy", ip="127.0.0.1", at=three_days_ago)
    await _audit(db, 1, AuditAction.LOGIN, actor="gina", ip="127.0.0.2")
    await _audit(db, 1, AuditAction.LOGIN, actor="ivy", ip="127.0.0.1")
    await _audit(db, 1, AuditAction.LOGIN, actor="hank", ip="127.0.0.3")

    found = await AnomalyRules(db).evaluate(datetime.now(UTC), LIMITS)
    assert sorted((f.rule, f.subject, f.count) for f in found) == [
        ("blocked_prompts", "mallory", 3),
        ("egress_refused", "prober-app", 20),
        ("failed_deployments", "frank", 5),
        ("failed_logins", "127.0.0.9", 10),
        ("new_login_address", "gina@127.0.0.2", 1),
        ("rate_limited", "user:eve", 3),
        ("secret_reads", "spiky", 25),
    ]
    # Old rows fall out of the window.
    later = await AnomalyRules(db).evaluate(now + timedelta(days=2), LIMITS)
    assert later == []


async def test_a_repaired_deployment_counts_once_and_only_if_its_last_attempt_failed(
    db: Database,
) -> None:
    """The generator may repair a failed bundle: a deployment is one failure at most."""
    digest = await ArtifactStore(db).put("qa-report", b"{}")
    reports = QAReportRepository(db)
    for i in range(5):
        verdicts = ["fail", "fail", "pass"] if i == 0 else ["fail", "fail", "fail"]
        for attempt, verdict in enumerate(verdicts, 1):
            await reports.save_report(
                deployment_id=f"rita-qa-{i:04d}",
                app_id="rita-app",
                owner_id="rita",
                bundle_hash=f"{attempt}" * 64,
                verdict=verdict,
                report_sha256=digest,
                summary="mutation score 0.2",
                attempt=attempt,
            )
    assert await AnomalyRules(db).evaluate(datetime.now(UTC), LIMITS) == []  # 4 of 5
    await reports.save_report(
        deployment_id="rita-qa-once",
        app_id="rita-app",
        owner_id="rita",
        bundle_hash="b" * 64,
        verdict="fail",
        report_sha256=digest,
        summary="bandit B307",
    )
    [finding] = await AnomalyRules(db).evaluate(datetime.now(UTC), LIMITS)
    assert (finding.rule, finding.subject, finding.count) == ("failed_deployments", "rita", 5)


@pytest.fixture
def scanner(db: Database, tmp_path: Path) -> AnomalyActivities:
    settings = Settings(data_dir=tmp_path / "data")
    mailer = Mailer.from_settings(settings, MailOutbox(db))
    return AnomalyActivities(
        AnomalyRules(db),
        OperatorAlerts(AlertLog(db), mailer, ["oncall@example.com"]),
        UserRepository(db),
        AuditLog(db),
    )


async def test_a_scan_alerts_once_suspends_and_mails_operators(
    db: Database, scanner: AnomalyActivities
) -> None:
    user = await UserRepository(db).from_login("https://idp.test", "mal", "mal@example.com")
    await _blocked(db, user.id, 3)
    await _audit(db, 10, AuditAction.LOGIN_FAILED, ip="127.0.0.9")
    env = ActivityEnvironment()
    first = await env.run(scanner.scan_anomalies, AnomalyScanInput(thresholds=LIMITS))
    assert first.findings == 2 and len(first.new_alerts) == 2 and first.suspended == [user.id]
    again = await env.run(scanner.scan_anomalies, AnomalyScanInput(thresholds=LIMITS))
    assert again.findings == 2 and again.new_alerts == [] and again.suspended == []

    suspended = await UserRepository(db).get(user.id)
    assert suspended is not None and suspended.suspended_at is not None
    assert "3 blocked prompts" in (suspended.suspended_reason or "")
    alerts = await AlertLog(db).search()
    assert sorted(a.rule for a in alerts) == ["blocked_prompts", "failed_logins"]
    mails = await MailOutbox(db).recent("oncall@example.com")
    assert sorted(m.subject.split("] ")[1] for m in mails) == ["blocked_prompts", "failed_logins"]
    (suspension,) = await AuditLog(db).search(action="user.suspend")
    assert suspension.actor == "anomaly-scan" and suspension.resource == f"user:{user.id}"

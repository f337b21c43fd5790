"""The anomaly scan activity: evaluate the rules, raise each new alert once, suspend
users over the blocked-prompt threshold, and tell operators (mail and Sentry).

Idempotent: alerts are unique per rule, subject and window, a suspension happens
once, and only new alerts are mailed.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from temporalio import activity

from monitoring.operator_alerts import OperatorAlerts
from schemas.anomalies import AnomalyScanInput, AnomalyScanResult, Finding
from schemas.audit import Actor, AuditAction, AuditEvent, AuditOutcome
from store.anomalies import AnomalyRules
from store.audit import AuditLog
from store.users import UserRepository
from temporal import names

log = logging.getLogger(__name__)
SCANNER = "anomaly-scan"


class AnomalyActivities:
    """Runs the rules against the shared database."""

    def __init__(
        self,
        rules: AnomalyRules,
        alerts: OperatorAlerts,
        users: UserRepository,
        audit: AuditLog,
    ) -> None:
        self._rules = rules
        self._alerts = alerts
        self._users = users
        self._audit = audit

    @activity.defn(name=names.ACTIVITY_SCAN_ANOMALIES)
    async def scan_anomalies(self, input: AnomalyScanInput) -> AnomalyScanResult:
        """One scan over the window ending now."""
        limits = input.thresholds
        now = datetime.now(UTC)
        findings = await self._rules.evaluate(now, limits)
        window_key = str(int(now.timestamp() // limits.window_s))
        quiet_since = now - timedelta(seconds=limits.window_s)
        new_alerts: list[int] = []
        suspended: list[str] = []
        for finding in findings:
            if finding.rule == "blocked_prompts" and await self._suspend(finding):
                suspended.append(finding.subject)
            alert_id = await self._alerts.raise_alert(
                finding, window_key=window_key, quiet_since=quiet_since
            )
            if alert_id is not None:
                new_alerts.append(alert_id)
        return AnomalyScanResult(findings=len(findings), new_alerts=new_alerts, suspended=suspended)

    async def _suspend(self, finding: Finding) -> bool:
        if not await self._users.suspend(finding.subject, finding.summary):
            return False
        await self._audit.record(
            AuditEvent(
                actor=Actor(user_id=SCANNER),
                action=AuditAction.USER_SUSPEND,
                resource=f"user:{finding.subject}",
                outcome=AuditOutcome.OK,
                detail={"rule": finding.rule, "count": finding.count},
            )
        )
        return True

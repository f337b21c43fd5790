"""Alerts for operators: stored once (per rule, subject and window), then mailed to
the operators' addresses and sent to Sentry (with the rule and alert id, never the
subject, which may be a user or an address)."""

from __future__ import annotations

from datetime import datetime

import sentry_sdk

from schemas.anomalies import Finding
from store.anomalies import AlertLog
from store.mail_delivery import Mailer


class OperatorAlerts:
    """Raise an alert and tell the operators, once."""

    def __init__(self, alerts: AlertLog, mailer: Mailer, operator_emails: list[str]) -> None:
        self._alerts = alerts
        self._mailer = mailer
        self._operator_emails = operator_emails

    async def raise_alert(
        self, finding: Finding, *, window_key: str, quiet_since: datetime, mail: bool = True
    ) -> int | None:
        """The new alert's id (operators told); None if it was already raised.

        ``mail=False`` stores it and tells Sentry only: an alert that an alert mail
        could not be delivered must not queue another mail that may fail the same way.
        """
        alert_id = await self._alerts.raise_alert(
            finding, window_key=window_key, quiet_since=quiet_since
        )
        if alert_id is not None:
            await self._tell(alert_id, finding, mail=mail)
        return alert_id

    async def _tell(self, alert_id: int, finding: Finding, *, mail: bool) -> None:
        with sentry_sdk.new_scope() as scope:
            scope.set_tag("mb.alert_rule", finding.rule)
            scope.set_tag("mb.alert_id", str(alert_id))
            sentry_sdk.capture_message(f"operator alert: {finding.rule}", level="warning")
        if not mail:
            return
        for address in self._operator_emails:
            await self._mailer.send(
                address,
                f"[MicroBuilder alert #{alert_id}] {finding.rule}",
                f"{finding.summary}.\n\nSee `mb alerts` or GET /v1/alerts.",
                kind="alert",
            )

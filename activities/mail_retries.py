"""The scheduled mail delivery activity: retry the due outbox mail, and alert the
operators about every mail given up after its retry budget.

Idempotent: a row is sent only by the deliverer holding its claim, and a given-up
row raises its alert once (the alert is stored before the row is marked alerted,
so a crash in between repeats a deduplicated insert, never loses the alert).
"""

from __future__ import annotations

import logging

from temporalio import activity

from activities.heartbeat import keep_alive
from monitoring.operator_alerts import OperatorAlerts
from schemas.anomalies import Finding
from schemas.mail import MailDeliveryInput, MailDeliveryResult
from store.mail_delivery import Mailer
from store.outbox import MailOutbox, OutboxMail
from temporal import names

log = logging.getLogger(__name__)


class MailDeliveryActivities:
    """Delivers the outbox through this worker's mailer."""

    def __init__(self, mailer: Mailer, outbox: MailOutbox, alerts: OperatorAlerts) -> None:
        self._mailer = mailer
        self._outbox = outbox
        self._alerts = alerts

    @activity.defn(name=names.ACTIVITY_DELIVER_MAIL)
    async def deliver_mail(self, input: MailDeliveryInput) -> MailDeliveryResult:
        """One pass over the due mail, then the alerts for mail given up."""
        mailer = Mailer(
            self._outbox,
            self._mailer.transport,
            mail_from=self._mailer.mail_from,
            policy=input.policy,
        )
        async with keep_alive("delivering mail"):
            run = await mailer.deliver_due(input.limit)
            alerts = await self.alert_given_up()
        return MailDeliveryResult(
            sent=run.sent, failed=run.failed, given_up=run.given_up, alerts=alerts
        )

    async def alert_given_up(self) -> list[int]:
        """An operator alert for each given-up mail not alerted yet; the new alert ids."""
        raised: list[int] = []
        for mail in await self._outbox.given_up_unalerted():
            alert_id = await self._alerts.raise_alert(
                _finding(mail),
                window_key=str(mail.id),
                quiet_since=mail.created_at,
                mail=mail.kind != "alert",
            )
            await self._outbox.mark_alerted(mail.id)
            if alert_id is not None:
                raised.append(alert_id)
        return raised


def _finding(mail: OutboxMail) -> Finding:
    """The alert for one given-up mail: which mail and why, never its recipient or body."""
    hours = (mail.given_up_at - mail.created_at).total_seconds() / 3600 if mail.given_up_at else 0.0
    return Finding(
        rule="mail_given_up",
        subject=f"mail:{mail.id}",
        count=mail.attempts,
        summary=(
            f"mail #{mail.id} ({mail.subject!r}) was given up after {mail.attempts} attempts"
            f" over {hours:.1f} h; it stays in the outbox; last error: {mail.last_error}"
        )[:2000],
        detail={"mail_id": mail.id, "kind": mail.kind},
    )

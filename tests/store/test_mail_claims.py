"""At-most-once, ordered delivery of the outbox against a real SMTP server (aiosmtpd):
claims per row, head-of-line order per recipient, backoff, a budget after which a
mail is given up, and a cancelled delivery that still records what the relay took."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from email import message_from_bytes, policy
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from schemas.settings import Settings
from store.db import Database
from store.mail_delivery import Mailer
from store.outbox import MailOutbox
from temporal.devserver import free_loopback_port

SENDER = "MicroBuilder <noreply@microbuilder.invalid>"


class Relay:
    """An aiosmtpd handler that keeps every accepted message, optionally slowly, and
    refuses the first attempt of any message whose subject contains "flaky"."""

    def __init__(self, delay_s: float = 0.0) -> None:
        self.delay_s = delay_s
        self.accepted: list[tuple[str, str, str]] = []  # (recipient, subject, Message-ID)
        self.receiving = asyncio.Event()
        self._refused: set[str] = set()

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        assert isinstance(envelope.original_content, bytes)
        message = message_from_bytes(envelope.original_content, policy=policy.default)
        self.receiving.set()
        if "flaky" in str(message["Subject"]) and message["Message-ID"] not in self._refused:
            self._refused.add(str(message["Message-ID"]))
            return "451 4.3.0 try again later"
        await asyncio.sleep(self.delay_s)
        self.accepted.append(
            (str(message["To"]), str(message["Subject"]), str(message["Message-ID"]))
        )
        return "250 accepted"

    def subjects_for(self, recipient: str) -> list[str]:
        return [s for r, s, _ in self.accepted if r == recipient]


@pytest.fixture
def relays() -> Iterator[list[Controller]]:
    started: list[Controller] = []
    yield started
    for controller in started:
        controller.stop()


def start_relay(started: list[Controller], port: int, relay: Relay) -> None:
    controller = Controller(relay, hostname="127.0.0.1", port=port)
    controller.start()
    started.append(controller)


def mailer(db: Database, port: int, **overrides: Any) -> Mailer:
    settings = Settings(
        smtp_host="127.0.0.1",
        smtp_port=port,
        smtp_starttls=False,
        smtp_timeout_s=5.0,
        mail_from=SENDER,
        **overrides,
    )
    return Mailer.from_settings(settings, MailOutbox(db))


async def make_due(db: Database) -> None:
    """Time passing, as far as backoff is concerned (tests do not wait for it)."""
    async with db.connection() as conn:
        await conn.execute("UPDATE mail_outbox SET next_attempt_at = now() WHERE sent_at IS NULL")


async def test_an_outage_loses_nothing_and_overlapping_deliverers_send_each_mail_once(
    db: Database, relays: list[Controller]
) -> None:
    """Mail queued while the relay is down arrives once it is back, exactly once, in
    queue order per recipient, even with two deliverers running at the same time."""
    port = free_loopback_port()  # the relay is down: nothing listens
    first = mailer(db, port)
    queued = []
    for n in range(4):
        for recipient in ("alice@example.com", "bob@example.org"):
            queued.append(await first.send(recipient, f"notice {n}", "body"))
    outbox = MailOutbox(db)
    assert len(await outbox.pending(100)) == 8  # every send failed and was kept

    relay = Relay(delay_s=0.05)  # slow enough for the two runs to overlap
    start_relay(relays, port, relay)
    await make_due(db)
    runs = await asyncio.gather(first.deliver_due(), mailer(db, port).deliver_due())

    assert sum(r.sent for r in runs) == 8
    assert all(r.sent > 0 for r in runs), "both deliverers worked at once"
    message_ids = [m for _, _, m in relay.accepted]
    assert len(message_ids) == len(set(message_ids)) == 8
    for recipient in ("alice@example.com", "bob@example.org"):
        assert relay.subjects_for(recipient) == [f"notice {n}" for n in range(4)]
    assert await outbox.pending(100) == []
    for mail_id in queued:
        mail = await outbox.get(mail_id)
        assert mail is not None and mail.sent_at is not None


async def test_a_recipients_later_mail_waits_for_the_earlier_one(
    db: Database, relays: list[Controller]
) -> None:
    """A mail refused for now (451) holds back the same recipient's later mail, while
    other recipients' mail goes; after the backoff both go, in order."""
    port = free_loopback_port()
    relay = Relay()
    start_relay(relays, port, relay)
    outbox = MailOutbox(db)
    flaky = await outbox.enqueue("alice@example.com", "1 flaky", "first")
    later = await outbox.enqueue("alice@example.com", "2 later", "second")
    other = await outbox.enqueue("bob@example.org", "for bob", "third")
    deliverer = mailer(db, port)  # backoff 60 s: the refused mail is not due again now

    run = await deliverer.deliver_due()
    assert (run.sent, run.failed) == (1, 1)
    assert relay.subjects_for("bob@example.org") == ["for bob"]
    assert relay.subjects_for("alice@example.com") == []
    refused = await outbox.get(flaky)
    assert refused is not None and refused.sent_at is None and refused.attempts == 1
    assert refused.next_attempt_at > refused.created_at  # backed off

    await make_due(db)
    assert (await deliverer.deliver_due()).sent == 2
    assert relay.subjects_for("alice@example.com") == ["1 flaky", "2 later"]
    for mail_id in (flaky, later, other):
        mail = await outbox.get(mail_id)
        assert mail is not None and mail.sent_at is not None


async def test_a_claimed_mail_is_left_alone_by_other_deliverers(db: Database) -> None:
    outbox = MailOutbox(db)
    mail_id = await outbox.enqueue("carol@example.net", "held", "body")
    [held] = await outbox.claim(lease_s=60)
    assert held.id == mail_id
    assert await outbox.claim(lease_s=60) == []
    assert await outbox.claim(lease_s=60, recipient="carol@example.net", due_only=False) == []
    # Another holder's failure report does not touch the row; the holder's does.
    assert (await outbox.mark_failed(mail_id, "late", claim_token="someone-else")).attempts == 0
    assert (await outbox.mark_failed(mail_id, "refused", claim_token=held.claim_token)).attempts
    # An expired lease (a deliverer that died) frees the row for the next one.
    async with db.connection() as conn:
        await conn.execute("UPDATE mail_outbox SET claimed_until = now() - interval '1 s'")
    await make_due(db)
    assert [m.id for m in await outbox.claim(lease_s=60)] == [mail_id]


async def test_a_cancelled_delivery_records_what_the_relay_accepted(
    db: Database, relays: list[Controller]
) -> None:
    """A worker shutting down mid-send (the activity cancelled) still records the
    send, so the next run (even after the lease expired) does not send it again."""
    port = free_loopback_port()
    relay = Relay(delay_s=1.0)
    start_relay(relays, port, relay)
    outbox = MailOutbox(db)
    mail_id = await outbox.enqueue("dave@example.com", "new sign-in", "body")
    deliverer = mailer(db, port)

    task = asyncio.create_task(deliverer.deliver_due())
    await asyncio.wait_for(relay.receiving.wait(), timeout=10)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    async with db.connection() as conn:  # the lease runs out, as after a crash
        await conn.execute("UPDATE mail_outbox SET claimed_until = now() - interval '1 s'")
    await make_due(db)
    assert (await deliverer.deliver_due()).sent == 0
    assert [s for _, s, _ in relay.accepted] == ["new sign-in"]
    mail = await outbox.get(mail_id)
    assert mail is not None and mail.sent_at is not None and mail.attempts == 1


async def test_mail_failing_past_its_budget_is_given_up_and_kept(db: Database) -> None:
    port = free_loopback_port()  # never up
    outbox = MailOutbox(db)
    mail_id = await outbox.enqueue("erin@example.com", "secret revealed", "body")
    deliverer = mailer(db, port, mail_retry_budget_s=0, mail_retry_initial_s=0)

    run = await deliverer.deliver_due()
    assert run.given_up == [mail_id]
    mail = await outbox.get(mail_id)
    assert mail is not None and mail.given_up_at is not None and mail.sent_at is None
    assert mail.last_error is not None and "ConnectionRefusedError" in mail.last_error
    assert await outbox.pending() == []  # not retried any more...
    assert [m.id for m in await outbox.given_up_unalerted()] == [mail_id]  # ...but kept
    assert (await deliverer.deliver_due()).failed == 0

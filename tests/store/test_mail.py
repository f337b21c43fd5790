"""The mail outbox and its delivery against a real SMTP server (aiosmtpd) and PostgreSQL."""

from __future__ import annotations

import base64
import logging
import ssl
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from pydantic import SecretStr

from api.tls import ensure_certificate
from schemas.settings import Settings
from store.db import Database
from store.mail_delivery import ConsoleTransport, Mailer, SmtpTransport
from store.outbox import MAX_BODY_BYTES, InvalidMail, MailOutbox, OutboxMail
from temporal.devserver import free_loopback_port

SENDER = "MicroBuilder <noreply@microbuilder.invalid>"
USERNAME = "mb-relay"
PASSWORD = "s3cr3t-P@ss/w0rd!"
WRONG_PASSWORD = "wr0ng-P@ss/w0rd?"


class Collector:
    """An aiosmtpd handler keeping every accepted envelope."""

    def __init__(self) -> None:
        self.envelopes: list[Envelope] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"

    def messages(self) -> list[EmailMessage]:
        parsed = []
        for envelope in self.envelopes:
            assert isinstance(envelope.original_content, bytes)
            message = message_from_bytes(envelope.original_content, policy=policy.default)
            assert isinstance(message, EmailMessage)
            parsed.append(message)
        return parsed


@dataclass
class Server:
    controller: Controller
    handler: Collector
    port: int


StartServer = Callable[..., Server]


@pytest.fixture
def smtp_server() -> Iterator[StartServer]:
    """Start aiosmtpd servers on 127.0.0.1 (a free port unless given); all stopped after."""
    started: list[Controller] = []

    def start(port: int | None = None, **smtp_kwargs: Any) -> Server:
        handler = Collector()
        port = port or free_loopback_port()
        controller = Controller(handler, hostname="127.0.0.1", port=port, **smtp_kwargs)
        controller.start()
        started.append(controller)
        return Server(controller, handler, port)

    yield start
    for controller in started:
        controller.stop()


@dataclass
class Tls:
    server: ssl.SSLContext
    cert_pem: bytes

    def trusting_client(self) -> ssl.SSLContext:
        return ssl.create_default_context(cadata=self.cert_pem.decode())


@pytest.fixture
def tls(tmp_path: Path) -> Tls:
    """A fresh self-signed certificate for 127.0.0.1 (the API's own generator) and the
    server context serving it."""
    cert_path, key_path = ensure_certificate(tmp_path / "tls", days=1)
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(cert_path, key_path)
    cert_pem = cert_path.read_bytes()
    return Tls(server, cert_pem)


def smtp_settings(port: int, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "smtp_host": "127.0.0.1",
        "smtp_port": port,
        "smtp_starttls": False,
        "smtp_timeout_s": 5.0,
        "mail_from": SENDER,
    }
    values.update(overrides)
    return Settings(**values)


async def row(db: Database, mail_id: int) -> OutboxMail:
    mail = await MailOutbox(db).get(mail_id)
    assert mail is not None
    return mail


async def count_rows(db: Database) -> int:
    async with db.connection() as conn:
        result = await (await conn.execute("SELECT count(*) AS n FROM mail_outbox")).fetchone()
    assert result is not None
    return int(result["n"])


def password_forms(password: str) -> list[str]:
    raw = password.encode()
    return [
        password,
        repr(raw)[2:-1],
        base64.b64encode(raw).decode(),
        base64.b64encode(f"\0{USERNAME}\0{password}".encode()).decode(),
    ]


# --- delivery -------------------------------------------------------------------------


async def test_smtp_mail_arrives_with_headers_and_is_marked_sent(
    db: Database, smtp_server: StartServer
) -> None:
    server = smtp_server()
    mailer = Mailer.from_settings(smtp_settings(server.port), MailOutbox(db))
    assert isinstance(mailer.transport, SmtpTransport)
    body = "Hello Ålice,\n\nverify here: https://mb.example/verify?t=abc.def\n.\nA line with a dot."

    mail_id = await mailer.send("alice@example.com", "Verify your address ✓", body)

    [envelope] = server.handler.envelopes
    assert envelope.mail_from == "noreply@microbuilder.invalid"
    assert envelope.rcpt_tos == ["alice@example.com"]
    [message] = server.handler.messages()
    assert message["From"] == SENDER
    assert message["To"] == "alice@example.com"
    assert message["Subject"] == "Verify your address ✓"
    assert message.get_content_type() == "text/plain"
    assert message.get_content_charset() == "utf-8"
    assert message.get_content().replace("\r\n", "\n").rstrip("\n") == body
    assert message["Message-ID"].startswith(f"<mb-outbox.{mail_id}.")
    assert message["Message-ID"].endswith("@microbuilder.invalid>")
    sent = await row(db, mail_id)
    assert message["Date"].datetime == sent.created_at.replace(microsecond=0)
    assert sent.sent_at is not None
    assert sent.attempts == 1
    assert sent.last_error is None
    assert await MailOutbox(db).pending() == []


async def test_console_mode_logs_the_mail_and_marks_it_sent(
    db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="mb.mail")
    mailer = Mailer.from_settings(Settings(smtp_host=None), MailOutbox(db))
    assert isinstance(mailer.transport, ConsoleTransport)
    link = "https://mb.example/verify?t=tok-123"

    mail_id = await mailer.send("bob@example.org", "Verify your address", f"Open {link}\n")

    [record] = [r for r in caplog.records if r.name == "mb.mail" and r.levelno == logging.INFO]
    text = record.getMessage()
    assert "bob@example.org" in text
    assert "Verify your address" in text
    assert link in text
    sent = await row(db, mail_id)
    assert sent.sent_at is not None
    assert sent.attempts == 1


async def test_server_down_then_deliver_pending_delivers_exactly_once(
    db: Database, smtp_server: StartServer, caplog: pytest.LogCaptureFixture
) -> None:
    port = free_loopback_port()  # nothing listens yet
    mailer = Mailer.from_settings(smtp_settings(port, mail_retry_initial_s=0), MailOutbox(db))

    mail_id = await mailer.send("carol@example.net", "Your build", "It is ready.")

    failed = await row(db, mail_id)
    assert failed.sent_at is None
    assert failed.attempts == 1
    assert failed.last_error is not None
    assert "ConnectionRefusedError" in failed.last_error
    assert any(
        r.levelno == logging.WARNING and "ConnectionRefusedError" in r.getMessage()
        for r in caplog.records
        if r.name == "mb.mail"
    )

    server = smtp_server(port=port)
    assert await mailer.deliver_pending() == 1
    assert [m["Subject"] for m in server.handler.messages()] == ["Your build"]
    assert await mailer.deliver_pending() == 0
    assert len(server.handler.envelopes) == 1
    sent = await row(db, mail_id)
    assert sent.sent_at is not None
    assert sent.attempts == 2


@pytest.mark.parametrize(
    ("recipient", "subject"),
    [
        ("alice@example.com\r\nBcc: mallory@evil.example", "Hello"),
        ("alice@example.com\nBcc: mallory@evil.example", "Hello"),
        ("alice@example.com\r", "Hello"),
        ("alice@example.com", "Hello\r\nBcc: mallory@evil.example"),
        ("alice@example.com", "Hello\nBcc: mallory@evil.example"),
        ("alice@example.com", "Hello\rX-Injected: 1"),
        ("alice@example.com", "Hello\u2028Bcc: mallory@evil.example"),
    ],
)
async def test_header_injection_is_refused_and_nothing_is_queued(
    db: Database, smtp_server: StartServer, recipient: str, subject: str
) -> None:
    server = smtp_server()
    mailer = Mailer.from_settings(smtp_settings(server.port), MailOutbox(db))
    with pytest.raises(InvalidMail, match="line breaks"):
        await mailer.send(recipient, subject, "body")
    assert await count_rows(db) == 0
    assert server.handler.envelopes == []


@pytest.mark.parametrize(
    ("recipient", "subject", "body", "reason"),
    [
        ("alice@example.com, mallory@evil.example", "s", "b", "single plain address"),
        ("Alice <alice@example.com>", "s", "b", "single plain address"),
        ("alice", "s", "b", "single plain address"),
        ("alice@localhost", "s", "b", "single plain address"),
        ("", "s", "b", "single plain address"),
        ("a" * 65 + "@example.com", "s", "b", "local part"),
        ("a@" + "b" * 63 + "." + "c" * 63 + "." + "d" * 63 + "." + "e" * 61, "s", "b", "254"),
        ("alice@example.com", "x" * 201, "b", "200"),
        ("alice@example.com", "s", "x" * (MAX_BODY_BYTES + 1), "larger"),
        ("alice@example.com", "s", "é" * (MAX_BODY_BYTES // 2 + 1), "larger"),
        ("alice@example.com", "s", "nul\0byte", "NUL"),
        ("alice@example.com", "bell\x07", "b", "control"),
    ],
)
async def test_invalid_mail_is_refused_with_a_reason(
    db: Database, recipient: str, subject: str, body: str, reason: str
) -> None:
    with pytest.raises(InvalidMail, match=reason):
        await MailOutbox(db).enqueue(recipient, subject, body)
    assert await count_rows(db) == 0


async def test_limits_are_inclusive(db: Database) -> None:
    outbox = MailOutbox(db)
    long_address = "a" * 64 + "@" + "b" * 63 + "." + "c" * 63 + "." + "d" * 57 + ".com"
    assert len(long_address) == 254
    await outbox.enqueue(long_address, "x" * 200, "y" * MAX_BODY_BYTES)
    await outbox.enqueue("first.last+tag@sub.example.co.uk", "Tab\tok", "")
    assert await count_rows(db) == 2


async def test_starttls_required_but_not_offered_is_not_delivered(
    db: Database, smtp_server: StartServer
) -> None:
    server = smtp_server()  # no tls_context: no STARTTLS in EHLO
    mailer = Mailer.from_settings(smtp_settings(server.port, smtp_starttls=True), MailOutbox(db))

    mail_id = await mailer.send("dave@example.com", "Hi", "secret link")

    failed = await row(db, mail_id)
    assert failed.sent_at is None
    assert failed.attempts == 1
    assert failed.last_error is not None
    assert "STARTTLS" in failed.last_error
    assert server.handler.envelopes == []


async def test_starttls_with_a_trusted_self_signed_certificate_delivers(
    db: Database, smtp_server: StartServer, tls: Tls
) -> None:
    server = smtp_server(tls_context=tls.server, require_starttls=True)
    mailer = Mailer.from_settings(
        smtp_settings(server.port, smtp_starttls=True),
        MailOutbox(db),
        ssl_context=tls.trusting_client(),
    )

    mail_id = await mailer.send("erin@example.com", "Over TLS", "encrypted body")

    assert [m.get_content().strip() for m in server.handler.messages()] == ["encrypted body"]
    assert (await row(db, mail_id)).sent_at is not None


async def test_starttls_refuses_an_untrusted_certificate(
    db: Database, smtp_server: StartServer, tls: Tls
) -> None:
    server = smtp_server(tls_context=tls.server, require_starttls=True)
    # No ssl_context: the default one, which does not trust the self-signed certificate.
    mailer = Mailer.from_settings(smtp_settings(server.port, smtp_starttls=True), MailOutbox(db))

    mail_id = await mailer.send("erin@example.com", "Over TLS", "encrypted body")

    failed = await row(db, mail_id)
    assert failed.sent_at is None
    assert failed.last_error is not None
    assert "SSLCertVerificationError" in failed.last_error
    assert server.handler.envelopes == []


async def test_auth_over_starttls_and_the_password_never_leaks(
    db: Database, smtp_server: StartServer, tls: Tls, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="mb.mail")
    logins: list[tuple[bytes, bytes]] = []

    def authenticator(
        server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        assert isinstance(data, LoginPassword)
        logins.append((data.login, data.password))
        if data.login == USERNAME.encode() and data.password == PASSWORD.encode():
            return AuthResult(success=True)
        # A careless relay that echoes the password it was given back in its reply.
        echoed = data.password.decode()
        return AuthResult(success=False, handled=False, message=f"535 5.7.8 bad: {echoed}")

    server = smtp_server(
        tls_context=tls.server,
        require_starttls=True,
        auth_required=True,
        auth_require_tls=True,
        authenticator=authenticator,
    )
    outbox = MailOutbox(db)

    def mailer(password: str) -> Mailer:
        settings = smtp_settings(
            server.port,
            smtp_starttls=True,
            smtp_username=USERNAME,
            smtp_password=SecretStr(password),
        )
        return Mailer.from_settings(settings, outbox, ssl_context=tls.trusting_client())

    good = await mailer(PASSWORD).send("frank@example.com", "Authenticated", "hello")
    assert (USERNAME.encode(), PASSWORD.encode()) in logins
    assert [m["Subject"] for m in server.handler.messages()] == ["Authenticated"]
    assert (await row(db, good)).sent_at is not None

    bad = await mailer(WRONG_PASSWORD).send("frank@example.com", "Refused", "hello")
    assert (USERNAME.encode(), WRONG_PASSWORD.encode()) in logins
    assert len(server.handler.envelopes) == 1
    failed = await row(db, bad)
    assert failed.sent_at is None
    assert failed.last_error is not None
    assert "SMTPAuthenticationError" in failed.last_error
    assert "[redacted]" in failed.last_error  # the relay did echo it, and it was removed

    mb_logs = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("mb"))
    assert "SMTPAuthenticationError" in mb_logs
    for secret in (*password_forms(PASSWORD), *password_forms(WRONG_PASSWORD)):
        assert secret not in failed.last_error
        assert secret not in caplog.text
        assert secret not in repr(mailer(PASSWORD).transport)


def test_credentials_are_never_sent_in_the_clear_to_a_remote_relay() -> None:
    with pytest.raises(ValueError, match="without STARTTLS"):
        SmtpTransport(
            "smtp.example.com", starttls=False, username=USERNAME, password=SecretStr(PASSWORD)
        )
    # Loopback (a local relay) is allowed.
    SmtpTransport("127.0.0.1", starttls=False, username=USERNAME, password=SecretStr(PASSWORD))
    with pytest.raises(ValueError, match="ASCII") as refused:
        SmtpTransport("127.0.0.1", username=USERNAME, password=SecretStr("pässword"))
    assert "pässword" not in str(refused.value)


# --- the outbox itself ----------------------------------------------------------------


async def test_outbox_pending_recent_and_outcomes(db: Database) -> None:
    outbox = MailOutbox(db)
    first = await outbox.enqueue("alice@example.com", "one", "1")
    second = await outbox.enqueue("bob@example.com", "two", "2")
    third = await outbox.enqueue("Alice@Example.com", "three", "3")

    assert [m.id for m in await outbox.pending()] == [first, second, third]
    assert [m.id for m in await outbox.pending(limit=2)] == [first, second]

    assert await outbox.mark_sent(second) is True
    assert await outbox.mark_sent(second) is False  # already sent: unchanged
    assert (await outbox.mark_failed(first, "Timeout:\r\nline two " + "x" * 1000)).attempts == 1
    assert (await outbox.mark_failed(first, "again")).attempts == 2
    assert (await outbox.mark_failed(second, "too late")).attempts == 0  # sent stays sent

    assert [m.id for m in await outbox.pending()] == [first, third]
    failed = await row(db, first)
    assert (failed.attempts, failed.last_error) == (2, "again")
    await outbox.mark_failed(third, "Timeout:\r\nline two " + "x" * 1000)
    third_row = await row(db, third)
    assert third_row.last_error is not None
    assert len(third_row.last_error) <= 500
    assert third_row.last_error.startswith("Timeout: line two xxx")
    assert (await row(db, second)).last_error is None

    assert [m.id for m in await outbox.recent("alice@example.com")] == [third, first]
    assert [m.id for m in await outbox.recent("ALICE@example.com", limit=1)] == [third]
    assert await outbox.recent("nobody@example.com") == []
    with pytest.raises(ValueError, match="positive"):
        await outbox.pending(limit=0)

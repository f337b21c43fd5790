"""Delivering the mail outbox: to the console (the embedded default) or an SMTP relay.

``Mailer.send`` writes the mail to the outbox first, then tries one delivery and
records its outcome on the row; a failure is logged and kept for the scheduled
``Mailer.deliver_due`` (``MailDeliveryWorkflow``) to retry with backoff, never
raised. Transports are small objects behind ``MailTransport``:
``ConsoleTransport`` logs the mail (the user of a dev stack reads their
verification link there) and ``SmtpTransport`` speaks SMTP with the standard
library in a worker thread, STARTTLS verified against the system's trust store
(or a given ``ssl.SSLContext``).

Every attempt first claims its row (``MailOutbox.claim``): a lease that no other
deliverer overrides, so overlapping runs never send one row twice. A claimed
send is shielded from cancellation: a worker shutting down waits until the relay
answered and the answer is recorded. What remains is a process killed in the
milliseconds between the relay's acceptance and the row's update: its lease
expires and the mail is sent again, with the same Message-ID (a recipient's mail
system may drop the copy). We chose that over the alternative, never resending a
mail whose outcome is unknown, because a lost security notice is worse than a
duplicate one.

Errors that reach the outbox or the log are reduced to the error's type and a
short description with every form of the SMTP password we send removed.
"""

from __future__ import annotations

import asyncio
import base64
import ipaddress
import logging
import smtplib
import ssl
from email.headerregistry import Address, HeaderRegistry
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Protocol

from pydantic import BaseModel, Field, SecretStr

from schemas.mail import MailRetryPolicy
from schemas.settings import Settings
from store.outbox import ClaimedMail, MailKind, MailOutbox, OutboxMail

log = logging.getLogger("mb.mail")

_MAX_DETAIL_CHARS = 300
_RECORD_TRIES = 5  # a brief database hiccup must not turn a delivered mail into a resend


class DeliveryError(Exception):
    """A transport could not deliver a mail; the text is safe to log and store."""

    def __init__(self, kind: str, detail: str = "") -> None:
        super().__init__(f"{kind}: {detail}" if detail else kind)
        self.kind = kind
        self.detail = detail


class MailTransport(Protocol):
    """Hands one finished message to whatever carries it further."""

    async def deliver(self, message: EmailMessage) -> None:
        """Deliver ``message`` or raise (preferably ``DeliveryError``)."""
        ...


class ConsoleTransport:
    """Logs every mail (recipient, subject and body) to ``mb.mail`` at INFO."""

    async def deliver(self, message: EmailMessage) -> None:
        """Log the mail; nothing leaves the process."""
        body = message.get_content()
        log.info(
            "mail to %s (not sent: no SMTP host configured)\nSubject: %s\n\n%s",
            message["To"],
            message["Subject"],
            body.rstrip("\n") if isinstance(body, str) else body,
        )


def _is_loopback(host: str) -> bool:
    if host.lower() in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class SmtpTransport:
    """SMTP submission with ``smtplib`` in a thread: STARTTLS (verified), then AUTH."""

    def __init__(
        self,
        host: str,
        port: int = 587,
        *,
        starttls: bool = True,
        username: str | None = None,
        password: SecretStr | None = None,
        timeout_s: float = 10.0,
        ssl_context: ssl.SSLContext | None = None,
        local_hostname: str | None = None,
    ) -> None:
        if username and password is None:
            raise ValueError("an SMTP username needs a password")
        if username and not starttls and not _is_loopback(host):
            raise ValueError(
                f"refusing to send SMTP credentials to {host} without STARTTLS"
                " (enable smtp_starttls)"
            )
        if password is not None and not password.get_secret_value().isascii():
            raise ValueError("the SMTP password must be ASCII (smtplib cannot send others)")
        if timeout_s <= 0:
            raise ValueError("timeout_s must be positive")
        self.host = host
        self.port = port
        self.starttls = starttls
        self.username = username
        self._password = password
        self.timeout_s = timeout_s
        self._ssl_context = ssl_context or ssl.create_default_context()
        self._local_hostname = local_hostname

    def __repr__(self) -> str:
        return (
            f"SmtpTransport(host={self.host!r}, port={self.port}, starttls={self.starttls},"
            f" username={self.username!r})"
        )

    async def deliver(self, message: EmailMessage) -> None:
        """Send ``message`` (in a thread); raises ``DeliveryError`` on any failure."""
        await asyncio.to_thread(self._deliver, message)

    def _deliver(self, message: EmailMessage) -> None:
        try:
            self._send(message)
        except DeliveryError:
            raise
        except Exception as exc:
            raise DeliveryError(type(exc).__name__, self._describe(exc)) from None

    def _send(self, message: EmailMessage) -> None:
        with smtplib.SMTP(
            self.host, self.port, local_hostname=self._local_hostname, timeout=self.timeout_s
        ) as smtp:
            smtp.ehlo()
            if self.starttls:
                if not smtp.has_extn("starttls"):
                    raise DeliveryError(
                        "StartTLSUnavailable", f"{self.host}:{self.port} does not offer STARTTLS"
                    )
                smtp.starttls(context=self._ssl_context)
                smtp.ehlo()
            if self.username and self._password is not None:
                smtp.login(self.username, self._password.get_secret_value())
            smtp.send_message(message)

    def _secret_forms(self) -> list[str]:
        """Every form in which the password may come back in an error (longest first)."""
        if self._password is None:
            return []
        password = self._password.get_secret_value()
        if not password:
            return []
        raw = password.encode()
        forms = {
            password,
            repr(raw)[2:-1],
            base64.b64encode(raw).decode(),
            base64.b64encode(f"\0{self.username or ''}\0{password}".encode()).decode(),
        }
        return sorted(forms, key=len, reverse=True)

    def _describe(self, exc: Exception) -> str:
        """A short, single-line description of ``exc`` without the password."""
        if isinstance(exc, smtplib.SMTPResponseException):
            reply = exc.smtp_error
            if isinstance(reply, bytes):
                reply = reply.decode("utf-8", "replace")
            text = f"{exc.smtp_code} {reply}"
        elif isinstance(exc, smtplib.SMTPRecipientsRefused):
            text = "; ".join(
                f"{rcpt}: {code} {resp.decode('utf-8', 'replace')}"
                for rcpt, (code, resp) in exc.recipients.items()
            )
        else:
            text = str(exc)
        for secret in self._secret_forms():
            text = text.replace(secret, "[redacted]")
        text = " ".join(text.split())
        return text[:_MAX_DETAIL_CHARS]


def _sender_domain(mail_from: str) -> str:
    """The domain of ``mail_from`` (for Message-IDs); ValueError unless one valid address."""
    if any(c in mail_from for c in "\r\n"):
        raise ValueError("mail_from must not contain line breaks")
    header = HeaderRegistry()("From", mail_from)
    addresses: tuple[Address, ...] = getattr(header, "addresses", ())
    if header.defects or len(addresses) != 1 or not addresses[0].domain:
        raise ValueError(f"mail_from is not a single address: {mail_from!r}")
    return addresses[0].domain


def build_message(mail: OutboxMail, mail_from: str) -> EmailMessage:
    """The RFC 5322 message for an outbox row (the same Message-ID on every retry)."""
    domain = _sender_domain(mail_from)
    message = EmailMessage()
    message["From"] = mail_from
    message["To"] = mail.recipient
    message["Subject"] = mail.subject
    message["Date"] = format_datetime(mail.created_at)
    stamp = int(mail.created_at.timestamp() * 1_000_000)
    message["Message-ID"] = f"<mb-outbox.{mail.id}.{stamp}@{domain}>"
    message.set_content(mail.body, subtype="plain", charset="utf-8")
    return message


class DeliveryRun(BaseModel):
    """What one pass over the due mail did."""

    sent: int = 0
    failed: int = 0
    given_up: list[int] = Field(default_factory=list)


class Mailer:
    """Queue every mail in the outbox, then deliver it through one transport."""

    def __init__(
        self,
        outbox: MailOutbox,
        transport: MailTransport,
        *,
        mail_from: str,
        policy: MailRetryPolicy | None = None,
    ) -> None:
        _sender_domain(mail_from)
        self._outbox = outbox
        self.transport = transport
        self.mail_from = mail_from
        self.policy = policy or MailRetryPolicy()

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        outbox: MailOutbox,
        *,
        ssl_context: ssl.SSLContext | None = None,
    ) -> Mailer:
        """SMTP when ``smtp_host`` is set, else the console."""
        transport: MailTransport
        if settings.smtp_host:
            transport = SmtpTransport(
                settings.smtp_host,
                settings.smtp_port,
                starttls=settings.smtp_starttls,
                username=settings.smtp_username or None,
                password=settings.smtp_password,
                timeout_s=settings.smtp_timeout_s,
                ssl_context=ssl_context,
            )
        else:
            transport = ConsoleTransport()
        return cls(
            outbox, transport, mail_from=settings.mail_from, policy=settings.mail_retry_policy
        )

    async def send(
        self, recipient: str, subject: str, body: str, *, kind: MailKind = "notice"
    ) -> int:
        """Queue a mail and try to deliver it now; returns the outbox id.

        Raises ``InvalidMail`` (nothing queued) for a bad recipient, subject or
        body; a delivery failure is recorded on the row and logged, not raised.
        The recipient's older unsent mail, if any, goes first (their order holds).
        """
        mail_id = await self._outbox.enqueue(recipient, subject, body, kind=kind)
        await self.deliver_one(mail_id)
        return mail_id

    async def deliver_one(self, mail_id: int) -> bool:
        """Deliver one queued mail now, after its recipient's older unsent mail, unless
        it was sent already; True once it is sent. Backoff is not waited for (this is
        a deliberate retry), claims by other deliverers are respected."""
        mail = await self._outbox.get(mail_id)
        if mail is None or mail.given_up_at is not None:
            return False
        if mail.sent_at is not None:
            return True
        while True:
            claimed = await self._outbox.claim(
                lease_s=self.policy.lease_s, recipient=mail.recipient, due_only=False
            )
            if not claimed:
                return False  # another deliverer holds this recipient's queue
            [head] = claimed
            if await self._attempt(head) != "sent":
                return False
            if head.id >= mail_id:
                return True

    async def deliver_pending(self, limit: int = 50) -> int:
        """Try the due unsent mail (at most ``limit`` attempts); how many were sent."""
        return (await self.deliver_due(limit)).sent

    async def deliver_due(self, limit: int = 500) -> DeliveryRun:
        """Attempt every mail whose backoff has passed, each recipient's in queue order,
        at most ``limit`` attempts; rows held by another deliverer are left to it."""
        run = DeliveryRun()
        for _ in range(limit):
            claimed = await self._outbox.claim(lease_s=self.policy.lease_s)
            if not claimed:
                break
            outcome = await self._attempt(claimed[0])
            if outcome == "sent":
                run.sent += 1
            else:
                run.failed += 1
                if outcome == "given up":
                    run.given_up.append(claimed[0].id)
        return run

    async def _attempt(self, mail: ClaimedMail) -> str:
        """One attempt at a claimed row, recorded on it: "sent", "failed" or "given up".

        Cancelling it (a worker shutting down) waits for the relay's answer and its
        record, then re-raises: an abandoned send would be sent again later."""
        task = asyncio.ensure_future(self._send_and_record(mail))
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            await task
            raise

    async def _send_and_record(self, mail: ClaimedMail) -> str:
        try:
            await self.transport.deliver(build_message(mail, self.mail_from))
        except DeliveryError as exc:
            error = str(exc)
        except Exception as exc:
            # An unknown transport's message may hold anything: keep only the type.
            error = type(exc).__name__
        else:
            await self._record_sent(mail.id)
            log.debug("mail %d delivered", mail.id)
            return "sent"
        failed = await self._outbox.mark_failed(
            mail.id, error, policy=self.policy, claim_token=mail.claim_token
        )
        if failed.given_up:
            log.error("mail %d given up after %d attempts: %s", mail.id, failed.attempts, error)
            return "given up"
        log.warning("mail %d not delivered (attempt %d): %s", mail.id, failed.attempts, error)
        return "failed"

    async def _record_sent(self, mail_id: int) -> None:
        """The relay accepted the mail: record it, retrying a failing database briefly."""
        for attempt in range(_RECORD_TRIES):
            try:
                await self._outbox.mark_sent(mail_id)
                return
            except Exception:
                if attempt == _RECORD_TRIES - 1:
                    raise
                await asyncio.sleep(0.2 * 2**attempt)

"""The mail outbox: every outgoing mail is written here before any delivery is tried.

A row is the durable record of one mail. Delivery (``store.mail_delivery``) marks
it sent or records the failed attempt, so nothing is lost when the relay is down
and ``Mailer.deliver_pending`` can retry later. Everything that ends up in a mail
header is validated here, once, against header injection (CR/LF and other line
breaks) and unreasonable sizes.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime

from pydantic import BaseModel

from store.db import Database

MAX_RECIPIENT_CHARS = 254  # RFC 5321 path limit minus the angle brackets
MAX_LOCAL_PART_CHARS = 64
MAX_SUBJECT_CHARS = 200
MAX_BODY_BYTES = 100_000  # UTF-8 encoded
MAX_ERROR_CHARS = 500

# A plain ASCII addr-spec: a dot-atom local part and a dotted DNS domain whose
# last label starts with a letter (no display names, no lists, no IP literals).
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_ADDRESS = re.compile(
    rf"(?P<local>{_ATEXT}+(?:\.{_ATEXT}+)*)@(?:{_LABEL}\.)+[A-Za-z](?:[A-Za-z0-9-]{{0,61}}[A-Za-z0-9])?"
)


class InvalidMail(ValueError):
    """The mail cannot be queued; the message says why."""


class OutboxMail(BaseModel):
    """One outbox row. ``attempts`` counts delivery attempts, successful or not."""

    id: int
    recipient: str
    subject: str
    body: str
    created_at: datetime
    sent_at: datetime | None
    attempts: int
    last_error: str | None


def _has_line_break(text: str) -> bool:
    """CR, LF or any other character that some software treats as a line break."""
    return any(c in "\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029" for c in text)


def _has_control(text: str) -> bool:
    return any(unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") for c in text)


def validate_mail(recipient: str, subject: str, body: str) -> None:
    """Raise ``InvalidMail`` unless the mail is safe to queue and send."""
    if _has_line_break(recipient):
        raise InvalidMail("recipient must not contain CR/LF or other line breaks")
    if _has_line_break(subject):
        raise InvalidMail("subject must not contain CR/LF or other line breaks")
    if len(recipient) > MAX_RECIPIENT_CHARS:
        raise InvalidMail(f"recipient is longer than {MAX_RECIPIENT_CHARS} characters")
    if _has_control(recipient):
        raise InvalidMail("recipient must not contain control characters")
    match = _ADDRESS.fullmatch(recipient)
    if match is None:
        raise InvalidMail("recipient must be a single plain address such as user@example.com")
    if len(match["local"]) > MAX_LOCAL_PART_CHARS:
        raise InvalidMail(
            f"recipient's local part is longer than {MAX_LOCAL_PART_CHARS} characters"
        )
    if len(subject) > MAX_SUBJECT_CHARS:
        raise InvalidMail(f"subject is longer than {MAX_SUBJECT_CHARS} characters")
    if _has_control(subject.replace("\t", " ")):
        raise InvalidMail("subject must not contain control characters")
    try:
        subject.encode()
        size = len(body.encode())
    except UnicodeEncodeError:
        raise InvalidMail("subject and body must be valid Unicode text") from None
    if size > MAX_BODY_BYTES:
        raise InvalidMail(f"body is larger than {MAX_BODY_BYTES} bytes")
    if "\0" in body:
        raise InvalidMail("body must not contain NUL characters")


def _short_error(error: str) -> str:
    """One line, no control characters, at most ``MAX_ERROR_CHARS``."""
    text = " ".join("".join(" " if _has_control(c) else c for c in error).split())
    if len(text) > MAX_ERROR_CHARS:
        text = text[: MAX_ERROR_CHARS - 1] + "…"
    return text or "unknown error"


def _check_limit(limit: int) -> None:
    if limit < 1:
        raise ValueError("limit must be positive")


class MailOutbox:
    """Queue mail, list what is unsent and record each delivery's outcome."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def enqueue(self, recipient: str, subject: str, body: str) -> int:
        """Validate and store one mail; returns its id."""
        validate_mail(recipient, subject, body)
        async with self._db.connection() as conn:
            row = await (
                await conn.execute(
                    "INSERT INTO mail_outbox (recipient, subject, body) VALUES (%s, %s, %s)"
                    " RETURNING id",
                    (recipient, subject, body),
                )
            ).fetchone()
        assert row is not None
        return int(row["id"])

    async def get(self, mail_id: int) -> OutboxMail | None:
        """One mail by id."""
        async with self._db.connection() as conn:
            row = await (
                await conn.execute(
                    "SELECT id, recipient, subject, body, created_at, sent_at, attempts, last_error"
                    " FROM mail_outbox WHERE id = %s",
                    (mail_id,),
                )
            ).fetchone()
        return OutboxMail.model_validate(row) if row else None

    async def pending(self, limit: int = 50) -> list[OutboxMail]:
        """Unsent mail, oldest first."""
        _check_limit(limit)
        async with self._db.connection() as conn:
            rows = await (
                await conn.execute(
                    "SELECT id, recipient, subject, body, created_at, sent_at, attempts, last_error"
                    " FROM mail_outbox WHERE sent_at IS NULL"
                    " ORDER BY id LIMIT %s",
                    (limit,),
                )
            ).fetchall()
        return [OutboxMail.model_validate(r) for r in rows]

    async def mark_sent(self, mail_id: int) -> bool:
        """Record a successful delivery; False if the mail was already marked sent."""
        async with self._db.connection() as conn:
            cur = await conn.execute(
                "UPDATE mail_outbox SET sent_at = now(), attempts = attempts + 1"
                " WHERE id = %s AND sent_at IS NULL",
                (mail_id,),
            )
        return cur.rowcount == 1

    async def mark_failed(self, mail_id: int, error: str) -> int:
        """Record a failed attempt with a short error (which must hold no credentials);
        returns the attempts so far (0 if the mail is unknown or already sent)."""
        async with self._db.connection() as conn:
            row = await (
                await conn.execute(
                    "UPDATE mail_outbox SET attempts = attempts + 1, last_error = %s"
                    " WHERE id = %s AND sent_at IS NULL RETURNING attempts",
                    (_short_error(error), mail_id),
                )
            ).fetchone()
        return int(row["attempts"]) if row else 0

    async def recent(self, recipient: str, limit: int = 20) -> list[OutboxMail]:
        """The latest mail to ``recipient`` (compared case-insensitively), newest first."""
        _check_limit(limit)
        async with self._db.connection() as conn:
            rows = await (
                await conn.execute(
                    "SELECT id, recipient, subject, body, created_at, sent_at, attempts, last_error"
                    " FROM mail_outbox WHERE lower(recipient) = lower(%s)"
                    " ORDER BY id DESC LIMIT %s",
                    (recipient, limit),
                )
            ).fetchall()
        return [OutboxMail.model_validate(r) for r in rows]

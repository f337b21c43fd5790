"""The mail outbox: every outgoing mail is written here before any delivery is tried.

A row is the durable record of one mail. A deliverer (``store.mail_delivery``)
first *claims* a row: one ``UPDATE ... WHERE id IN (SELECT ... FOR UPDATE SKIP
LOCKED)`` sets a lease and a random claim token, so of two overlapping deliverers
only one ever holds a row. Only the head of each recipient's queue (their oldest
unsent mail) can be claimed, so one recipient's mail arrives in queue order. The
holder marks the row sent once the relay accepted it, or records the failure and
when to try again (exponential backoff); a row still failing once its retry
budget has passed is given up: kept, and listed for an operator alert.

Everything that ends up in a mail header is validated here, once, against header
injection (CR/LF and other line breaks) and unreasonable sizes.
"""

from __future__ import annotations

import re
import secrets
import unicodedata
from datetime import datetime
from typing import Literal

from pydantic import BaseModel

from schemas.mail import MailRetryPolicy
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


MailKind = Literal["notice", "alert"]


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
    next_attempt_at: datetime
    given_up_at: datetime | None
    kind: MailKind


class ClaimedMail(OutboxMail):
    """A row this deliverer holds until ``claimed_until`` (its ``claim_token`` proves it)."""

    claimed_until: datetime
    claim_token: str


class FailedAttempt(BaseModel):
    """What recording a failed attempt did to the row."""

    attempts: int
    given_up: bool


_COLUMNS = (
    "id, recipient, subject, body, created_at, sent_at, attempts, last_error,"
    " next_attempt_at, given_up_at, kind"
)

# The head of each recipient's queue that nobody holds, oldest first; locked rows
# (another deliverer is claiming them right now) are skipped, not waited for.
_CLAIM = (
    "UPDATE mail_outbox SET claimed_until = now() + make_interval(secs => %(lease)s),"
    " claim_token = %(token)s"
    " WHERE id IN (SELECT c.id FROM mail_outbox c"
    "  WHERE c.sent_at IS NULL AND c.given_up_at IS NULL"
    "  AND (c.claimed_until IS NULL OR c.claimed_until < now())"
    "  AND (NOT %(due_only)s OR c.next_attempt_at <= now())"
    "  AND (%(recipient)s::text IS NULL OR lower(c.recipient) = lower(%(recipient)s))"
    "  AND NOT EXISTS (SELECT 1 FROM mail_outbox e"
    "   WHERE lower(e.recipient) = lower(c.recipient) AND e.id < c.id"
    "   AND e.sent_at IS NULL AND e.given_up_at IS NULL)"
    "  ORDER BY c.id LIMIT %(limit)s FOR UPDATE SKIP LOCKED)"
    " RETURNING id, recipient, subject, body, created_at, sent_at, attempts, last_error,"
    " next_attempt_at, given_up_at, kind, claimed_until, claim_token"
)


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

    async def enqueue(
        self, recipient: str, subject: str, body: str, *, kind: MailKind = "notice"
    ) -> int:
        """Validate and store one mail; returns its id."""
        validate_mail(recipient, subject, body)
        async with self._db.connection() as conn:
            row = await (
                await conn.execute(
                    "INSERT INTO mail_outbox (recipient, subject, body, kind)"
                    " VALUES (%s, %s, %s, %s) RETURNING id",
                    (recipient, subject, body, kind),
                )
            ).fetchone()
        assert row is not None
        return int(row["id"])

    async def get(self, mail_id: int) -> OutboxMail | None:
        """One mail by id."""
        async with self._db.connection() as conn:
            row = await (
                await conn.execute(
                    f"SELECT {_COLUMNS} FROM mail_outbox WHERE id = %s",  # noqa: S608
                    (mail_id,),
                )
            ).fetchone()
        return OutboxMail.model_validate(row) if row else None

    async def pending(self, limit: int = 50) -> list[OutboxMail]:
        """Unsent mail that is not given up, oldest first."""
        _check_limit(limit)
        async with self._db.connection() as conn:
            rows = await (
                await conn.execute(
                    f"SELECT {_COLUMNS} FROM mail_outbox"  # noqa: S608 - constant columns
                    " WHERE sent_at IS NULL AND given_up_at IS NULL ORDER BY id LIMIT %s",
                    (limit,),
                )
            ).fetchall()
        return [OutboxMail.model_validate(r) for r in rows]

    async def claim(
        self,
        *,
        lease_s: float,
        limit: int = 1,
        recipient: str | None = None,
        due_only: bool = True,
    ) -> list[ClaimedMail]:
        """Take up to ``limit`` rows for ``lease_s`` seconds: the oldest unsent mail of
        each recipient (of ``recipient`` only, if given) that nobody holds and, with
        ``due_only``, whose backoff has passed. Oldest first."""
        _check_limit(limit)
        params = {
            "lease": lease_s,
            "token": secrets.token_hex(16),
            "due_only": due_only,
            "recipient": recipient,
            "limit": limit,
        }
        async with self._db.connection() as conn:
            rows = await (await conn.execute(_CLAIM, params)).fetchall()
        return sorted((ClaimedMail.model_validate(r) for r in rows), key=lambda m: m.id)

    async def mark_sent(self, mail_id: int) -> bool:
        """Record a successful delivery (and release the claim); False if the mail was
        already marked sent. Recorded whoever holds the claim: the relay has the mail."""
        async with self._db.connection() as conn:
            cur = await conn.execute(
                "UPDATE mail_outbox SET sent_at = now(), attempts = attempts + 1,"
                " claimed_until = NULL, claim_token = NULL"
                " WHERE id = %s AND sent_at IS NULL",
                (mail_id,),
            )
        return cur.rowcount == 1

    async def mark_failed(
        self,
        mail_id: int,
        error: str,
        *,
        policy: MailRetryPolicy | None = None,
        claim_token: str | None = None,
    ) -> FailedAttempt:
        """Record a failed attempt with a short error (which must hold no credentials),
        release the claim and set the next attempt's time by ``policy``; the row is
        given up when the policy's budget has passed since it was queued. Ignored
        (attempts 0) if the mail is unknown, sent, given up, or claimed by someone
        other than ``claim_token``'s holder."""
        policy = policy or MailRetryPolicy()
        async with self._db.connection() as conn:
            row = await (
                await conn.execute(
                    "UPDATE mail_outbox SET attempts = attempts + 1, last_error = %(error)s,"
                    " claimed_until = NULL, claim_token = NULL,"
                    " next_attempt_at = now() + make_interval(secs => least(%(max)s,"
                    "  %(initial)s * power(2, least(attempts, 60))::float8)),"
                    " given_up_at = CASE WHEN now() - created_at"
                    "  >= make_interval(secs => %(budget)s) THEN now() END"
                    " WHERE id = %(id)s AND sent_at IS NULL AND given_up_at IS NULL"
                    " AND (%(token)s::text IS NULL OR claim_token = %(token)s)"
                    " RETURNING attempts, given_up_at IS NOT NULL AS given_up",
                    {
                        "error": _short_error(error),
                        "max": policy.max_s,
                        "initial": policy.initial_s,
                        "budget": policy.budget_s,
                        "id": mail_id,
                        "token": claim_token,
                    },
                )
            ).fetchone()
        if row is None:
            return FailedAttempt(attempts=0, given_up=False)
        return FailedAttempt(attempts=int(row["attempts"]), given_up=bool(row["given_up"]))

    async def given_up_unalerted(self, limit: int = 100) -> list[OutboxMail]:
        """Given-up mail whose operator alert is not recorded yet, oldest first."""
        _check_limit(limit)
        async with self._db.connection() as conn:
            rows = await (
                await conn.execute(
                    f"SELECT {_COLUMNS} FROM mail_outbox"  # noqa: S608 - constant columns
                    " WHERE given_up_at IS NOT NULL AND alerted_at IS NULL ORDER BY id LIMIT %s",
                    (limit,),
                )
            ).fetchall()
        return [OutboxMail.model_validate(r) for r in rows]

    async def mark_alerted(self, mail_id: int) -> None:
        """Record that the operators were told this mail was given up."""
        async with self._db.connection() as conn:
            await conn.execute(
                "UPDATE mail_outbox SET alerted_at = coalesce(alerted_at, now()) WHERE id = %s",
                (mail_id,),
            )

    async def recent(self, recipient: str, limit: int = 20) -> list[OutboxMail]:
        """The latest mail to ``recipient`` (compared case-insensitively), newest first."""
        _check_limit(limit)
        async with self._db.connection() as conn:
            rows = await (
                await conn.execute(
                    f"SELECT {_COLUMNS} FROM mail_outbox"  # noqa: S608 - constant columns
                    " WHERE lower(recipient) = lower(%s)"
                    " ORDER BY id DESC LIMIT %s",
                    (recipient, limit),
                )
            ).fetchall()
        return [OutboxMail.model_validate(r) for r in rows]

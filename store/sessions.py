"""Server-side browser sessions with idle and absolute timeouts.

The cookie carries 256 random bits; the table keeps only their SHA-256, so a
database leak yields no usable session. Time comes from an injected clock, so
expiry is tested by moving the clock, not by sleeping.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from store.db import Database
from store.rate_limits import RateLimiter, Verdict
from store.status_views import AppRead, also_owner_and_status

Clock = Callable[[], datetime]

# last_seen_at is written at most this often: idle expiry is coarse by this much,
# and an active session costs one write a minute instead of one per request.
TOUCH_EVERY = timedelta(seconds=60)


def utc_now() -> datetime:
    """The real clock."""
    return datetime.now(UTC)


def _digest(session_id: str) -> bytes:
    return hashlib.sha256(session_id.encode()).digest()


@dataclass(frozen=True)
class NewSession:
    """What a login hands the browser: the cookie value (shown once) and its CSRF token."""

    session_id: str
    csrf_token: str


@dataclass(frozen=True)
class LiveSession:
    """A valid session, as a request sees it."""

    user_id: str
    csrf_token: str
    created_at: datetime
    verified: bool
    rate: Verdict | None = None  # the user's rate limit, when the lookup counted the request
    app: AppRead | None = None  # the app the check was asked to read as well


class SessionStore:
    """Create, check, and revoke sessions."""

    def __init__(
        self,
        db: Database,
        *,
        idle_timeout: timedelta,
        absolute_timeout: timedelta,
        clock: Clock = utc_now,
    ) -> None:
        self._db = db
        self.idle_timeout = idle_timeout
        self.absolute_timeout = absolute_timeout
        self._clock = clock

    async def create(
        self, user_id: str, *, client_ip: str | None, user_agent: str | None
    ) -> NewSession:
        """A brand-new session (a fresh id at every login)."""
        new = NewSession(secrets.token_urlsafe(32), secrets.token_urlsafe(32))
        now = self._clock()
        async with self._db.connection() as conn:
            await conn.execute(
                "INSERT INTO sessions (id_sha256, user_id, csrf_token, created_at,"
                " last_seen_at, client_ip, user_agent) VALUES (%s, %s, %s, %s, %s, %s, %s)",
                (
                    _digest(new.session_id),
                    user_id,
                    new.csrf_token,
                    now,
                    now,
                    client_ip,
                    (user_agent or "")[:300] or None,
                ),
            )
        return new

    async def check(
        self,
        session_id: str,
        *,
        limiter: RateLimiter | None = None,
        app_id: str | None = None,
    ) -> LiveSession | None:
        """The session if it exists, is not revoked, and has not timed out.

        With ``limiter``, a live session's request is also counted against its user's
        rate limit in the same statement (see ``LiveSession.rate``), and with ``app_id``
        that statement reads the app's owner and status too (``LiveSession.app``).
        """
        if not session_id or len(session_id) > 100:
            return None
        now = self._clock()
        digest = _digest(session_id)
        found = (
            "SELECT s.user_id, s.csrf_token, s.created_at, s.last_seen_at,"
            " u.email_verified_at FROM sessions s JOIN users u ON u.id = s.user_id"
            " WHERE s.id_sha256 = %s AND s.revoked_at IS NULL"
            " AND s.last_seen_at > %s AND s.created_at > %s"
        )
        args: tuple[object, ...] = (digest, now - self.idle_timeout, now - self.absolute_timeout)
        async with self._db.connection() as conn:
            if limiter is None:
                row = await (await conn.execute(found, args)).fetchone()
            else:
                row = await limiter.counted(conn, found, args, also_owner_and_status(app_id))
            if row is None:
                return None
            if now - row["last_seen_at"] >= TOUCH_EVERY:
                await conn.execute(
                    "UPDATE sessions SET last_seen_at = %s WHERE id_sha256 = %s",
                    (now, digest),
                )
        return LiveSession(
            user_id=row["user_id"],
            csrf_token=row["csrf_token"],
            created_at=row["created_at"],
            verified=row["email_verified_at"] is not None,
            rate=limiter.read(row) if limiter is not None else None,
            app=AppRead.from_row(app_id, row) if limiter and app_id is not None else None,
        )

    async def known_address(self, user_id: str, client_ip: str | None) -> bool | None:
        """Whether the user ever had a session from ``client_ip``; None on a first login."""
        async with self._db.connection() as conn:
            row = await (
                await conn.execute(
                    "SELECT count(*) AS sessions, count(*) FILTER"
                    " (WHERE client_ip IS NOT DISTINCT FROM %s) AS from_here"
                    " FROM sessions WHERE user_id = %s",
                    (client_ip, user_id),
                )
            ).fetchone()
        if row is None or row["sessions"] == 0:
            return None
        return bool(row["from_here"])

    async def revoke(self, session_id: str) -> bool:
        """End one session (logout); False if it was not live."""
        async with self._db.connection() as conn:
            cur = await conn.execute(
                "UPDATE sessions SET revoked_at = %s WHERE id_sha256 = %s AND revoked_at IS NULL",
                (self._clock(), _digest(session_id)),
            )
        return cur.rowcount == 1

    async def revoke_all(self, user_id: str) -> int:
        """End every session of a user (log out everywhere); returns how many."""
        async with self._db.connection() as conn:
            cur = await conn.execute(
                "UPDATE sessions SET revoked_at = %s WHERE user_id = %s AND revoked_at IS NULL",
                (self._clock(), user_id),
            )
        return cur.rowcount

"""Logins in flight: the PKCE verifier, ``state`` and ``nonce`` bound to the browser.

A login starts by storing them under the SHA-256 of a random cookie; the
callback must present that cookie and the matching ``state``. Each attempt is
consumed by its first callback, and lapses after ``LOGIN_TTL``.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta

from store.db import Database
from store.sessions import Clock, utc_now

LOGIN_TTL = timedelta(minutes=10)


@dataclass(frozen=True)
class LoginAttempt:
    """The secrets of one authorization request."""

    state: str
    nonce: str
    code_verifier: str
    return_to: str


def _digest(cookie: str) -> bytes:
    return hashlib.sha256(cookie.encode()).digest()


class LoginAttempts:
    """Start and consume login attempts."""

    def __init__(self, db: Database, *, clock: Clock = utc_now) -> None:
        self._db = db
        self._clock = clock

    async def start(self, return_to: str) -> tuple[str, LoginAttempt]:
        """A new attempt and the cookie value that names it."""
        cookie = secrets.token_urlsafe(32)
        attempt = LoginAttempt(
            state=secrets.token_urlsafe(32),
            nonce=secrets.token_urlsafe(32),
            code_verifier=secrets.token_urlsafe(64),
            return_to=return_to,
        )
        now = self._clock()
        async with self._db.connection() as conn:
            await conn.execute(
                "INSERT INTO login_attempts (id_sha256, state, nonce, code_verifier,"
                " return_to, created_at) VALUES (%s, %s, %s, %s, %s, %s)",
                (
                    _digest(cookie),
                    attempt.state,
                    attempt.nonce,
                    attempt.code_verifier,
                    return_to,
                    now,
                ),
            )
            await conn.execute(
                "DELETE FROM login_attempts WHERE created_at < %s", (now - 6 * LOGIN_TTL,)
            )
        return cookie, attempt

    async def consume(self, cookie: str, state: str) -> LoginAttempt | None:
        """The attempt if ``cookie`` names a live one whose ``state`` matches.

        The attempt is used up either way: a wrong ``state`` burns it.
        """
        if not cookie or len(cookie) > 100:
            return None
        now = self._clock()
        async with self._db.connection() as conn:
            row = await (
                await conn.execute(
                    "UPDATE login_attempts SET used_at = %s"
                    " WHERE id_sha256 = %s AND used_at IS NULL AND created_at > %s"
                    " RETURNING state, nonce, code_verifier, return_to",
                    (now, _digest(cookie), now - LOGIN_TTL),
                )
            ).fetchone()
        if row is None or not hmac.compare_digest(row["state"].encode(), state.encode()):
            return None
        return LoginAttempt(**row)

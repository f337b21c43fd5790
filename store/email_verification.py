"""Email verification links: signed, expiring, single use.

A link carries ``<id>.<kid>.<mac>``: the id names a row of
``email_verifications`` (user, email, expiry) and the MAC is HMAC-SHA256 over
``<id>.<kid>`` under a key derived (HKDF) from master key ``kid``. Forged or
altered links fail the MAC (before the database is asked); old ones fail the
expiry; a used or superseded row refuses a second use; a link for an email the
user no longer has does nothing.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Awaitable, Callable
from datetime import timedelta
from enum import StrEnum

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from store.aes_keys import AesKeyRing
from store.db import Database
from store.sessions import Clock, utc_now
from store.users import User

SendMail = Callable[[str, str, str], Awaitable[int]]
_INFO = b"mb email verification links v1"


class VerifyOutcome(StrEnum):
    """What following a link did."""

    VERIFIED = "verified"
    INVALID = "invalid"
    EXPIRED = "expired"
    USED = "used"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class EmailVerifier:
    """Issue verification links (mailed) and confirm them."""

    def __init__(
        self,
        db: Database,
        keys: Callable[[], AesKeyRing],
        send: SendMail,
        *,
        base_url: str,
        ttl: timedelta,
        clock: Clock = utc_now,
    ) -> None:
        self._db = db
        self._keys = keys
        self._send = send
        self._base_url = base_url.rstrip("/")
        self._ttl = ttl
        self._clock = clock

    @staticmethod
    def _mac_key(master: bytes) -> bytes:
        return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(master)

    def _sign(self, payload: bytes, kid: str) -> str | None:
        key = self._keys().keys.get(kid)
        if key is None:
            return None
        return _b64(hmac.new(self._mac_key(key), payload, hashlib.sha256).digest())

    async def issue(self, user: User) -> str:
        """Record a new link for the user's current email, mail it, and return it."""
        if user.email is None:
            raise ValueError("the user has no email address to verify")
        now = self._clock()
        verification_id = secrets.token_urlsafe(16)
        kid = self._keys().current_id
        token = f"{verification_id}.{kid}.{self._sign(f'{verification_id}.{kid}'.encode(), kid)}"
        async with self._db.transaction() as conn:
            # A new link supersedes the user's earlier ones.
            await conn.execute(
                "UPDATE email_verifications SET used_at = %s"
                " WHERE user_id = %s AND used_at IS NULL",
                (now, user.id),
            )
            await conn.execute(
                "INSERT INTO email_verifications (id, user_id, email, created_at, expires_at)"
                " VALUES (%s, %s, %s, %s, %s)",
                (verification_id, user.id, user.email, now, now + self._ttl),
            )
        link = f"{self._base_url}/v1/auth/verify-email?token={token}"
        await self._send(
            user.email,
            "Confirm your email address for MicroBuilder",
            "Follow this link to confirm your email address and start deploying:\n\n"
            f"{link}\n\nIt works once and expires in {int(self._ttl.total_seconds() // 3600)} h."
            " If you did not sign in to MicroBuilder, ignore this message.\n",
        )
        return link

    async def pending_since(self, user_id: str) -> float | None:
        """Seconds since the user's live (unused, unexpired) link was issued, if any."""
        now = self._clock()
        async with self._db.connection() as conn:
            row = await (
                await conn.execute(
                    "SELECT max(created_at) AS at FROM email_verifications"
                    " WHERE user_id = %s AND used_at IS NULL AND expires_at > %s",
                    (user_id, now),
                )
            ).fetchone()
        if row is None or row["at"] is None:
            return None
        return float((now - row["at"]).total_seconds())

    async def confirm(self, token: str) -> tuple[VerifyOutcome, str | None]:
        """Follow a link: the outcome and, when verified, whose email it was."""
        parts = token.split(".")
        if len(parts) != 3 or not all(parts) or len(token) > 200:
            return VerifyOutcome.INVALID, None
        verification_id, kid, mac = parts
        expected = self._sign(f"{verification_id}.{kid}".encode(), kid)
        if expected is None or not hmac.compare_digest(expected.encode(), mac.encode()):
            return VerifyOutcome.INVALID, None
        now = self._clock()
        async with self._db.transaction() as conn:
            row = await (
                await conn.execute(
                    "SELECT user_id, email, expires_at, used_at FROM email_verifications"
                    " WHERE id = %s FOR UPDATE",
                    (verification_id,),
                )
            ).fetchone()
            if row is None:
                return VerifyOutcome.INVALID, None
            if row["used_at"] is not None:
                return VerifyOutcome.USED, None
            if now >= row["expires_at"]:
                return VerifyOutcome.EXPIRED, None
            await conn.execute(
                "UPDATE email_verifications SET used_at = %s WHERE id = %s",
                (now, verification_id),
            )
            updated = await conn.execute(
                "UPDATE users SET email_verified_at = %s WHERE id = %s AND email = %s",
                (now, row["user_id"], row["email"]),
            )
            if updated.rowcount != 1:  # the user's email changed since the link was sent
                return VerifyOutcome.INVALID, None
        return VerifyOutcome.VERIFIED, str(row["user_id"])

"""Users and API bearer tokens (stored as SHA-256 hashes, shown once)."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from store.db import Database

TOKEN_PREFIX = "mbt_"  # noqa: S105 - a public prefix, not a secret


def hash_token(token: str) -> bytes:
    """Tokens are 256-bit random, so a plain SHA-256 is a sufficient at-rest hash."""
    return hashlib.sha256(token.encode()).digest()


class TokenRepository:
    """Issue, verify and revoke API tokens."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def ensure_user(self, user_id: str, display_name: str) -> None:
        """Create the user if missing."""
        async with self._db.connection() as conn:
            await conn.execute(
                "INSERT INTO users (id, display_name) VALUES (%s, %s) ON CONFLICT DO NOTHING",
                (user_id, display_name),
            )

    async def has_tokens(self, user_id: str) -> bool:
        """Whether the user has any unrevoked token."""
        async with self._db.connection() as conn:
            row = await (
                await conn.execute(
                    "SELECT 1 FROM api_tokens WHERE user_id = %s AND revoked_at IS NULL",
                    (user_id,),
                )
            ).fetchone()
        return row is not None

    async def issue(self, user_id: str, *, ttl_s: float | None = None) -> str:
        """Create a token (expiring after ``ttl_s`` seconds, if given); the plaintext is
        returned once and never stored."""
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        async with self._db.connection() as conn:
            await conn.execute(
                "INSERT INTO api_tokens (id, user_id, token_sha256, expires_at) VALUES"
                " (%s, %s, %s, CASE WHEN %s::float8 IS NULL THEN NULL"
                " ELSE now() + make_interval(secs => %s::float8) END)",
                (secrets.token_hex(8), user_id, hash_token(token), ttl_s, ttl_s),
            )
        return token

    async def verify(self, token: str) -> str | None:
        """The user id a valid, unrevoked token belongs to; None otherwise."""
        if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
            return None
        digest = hash_token(token)
        async with self._db.connection() as conn:
            row = await (
                await conn.execute(
                    "SELECT user_id, token_sha256 FROM api_tokens"
                    " WHERE token_sha256 = %s AND revoked_at IS NULL"
                    " AND (expires_at IS NULL OR expires_at > now())",
                    (digest,),
                )
            ).fetchone()
        if row is None or not hmac.compare_digest(bytes(row["token_sha256"]), digest):
            return None
        return str(row["user_id"])

    async def revoke_all(self, user_id: str) -> int:
        """Revoke every token of a user; returns how many."""
        async with self._db.connection() as conn:
            cur = await conn.execute(
                "UPDATE api_tokens SET revoked_at = now()"
                " WHERE user_id = %s AND revoked_at IS NULL",
                (user_id,),
            )
        return cur.rowcount

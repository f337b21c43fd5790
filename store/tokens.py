"""Users and API bearer tokens (stored as SHA-256 hashes, shown once)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime

from pydantic import BaseModel

from store.db import Database
from store.rate_limits import RateLimiter, Verdict
from store.status_views import AppRead, also_owner_and_status

TOKEN_PREFIX = "mbt_"  # noqa: S105 - a public prefix, not a secret


def hash_token(token: str) -> bytes:
    """Tokens are 256-bit random, so a plain SHA-256 is a sufficient at-rest hash."""
    return hashlib.sha256(token.encode()).digest()


class TokenInfo(BaseModel):
    """What a valid token says about its caller."""

    user_id: str
    scopes: frozenset[str] | None  # None: every scope (operator-issued tokens)
    verified: bool
    rate: Verdict | None = None  # the user's rate limit, when the lookup counted the request
    app: AppRead | None = None  # the app the lookup was asked to read as well


class TokenView(BaseModel):
    """A token as its owner may list it (never the token itself)."""

    id: str
    name: str | None
    scopes: list[str] | None
    created_at: datetime
    expires_at: datetime | None


class TokenRepository:
    """Issue, verify and revoke API tokens."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def ensure_user(self, user_id: str, display_name: str) -> None:
        """Create the user if missing (an operator vouches for them: verified)."""
        async with self._db.connection() as conn:
            await conn.execute(
                "INSERT INTO users (id, display_name, email_verified_at) VALUES (%s, %s, now())"
                " ON CONFLICT DO NOTHING",
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

    async def issue(
        self,
        user_id: str,
        *,
        ttl_s: float | None = None,
        name: str | None = None,
        scopes: frozenset[str] | None = None,
    ) -> str:
        """Create a token (expiring after ``ttl_s`` seconds, if given; limited to
        ``scopes``, if given); the plaintext is returned once and never stored."""
        return (await self.issue_with_id(user_id, ttl_s=ttl_s, name=name, scopes=scopes))[1]

    async def issue_with_id(
        self,
        user_id: str,
        *,
        ttl_s: float | None = None,
        name: str | None = None,
        scopes: frozenset[str] | None = None,
    ) -> tuple[str, str]:
        """Like ``issue``, also returning the token's id (for listing and revoking)."""
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        token_id = secrets.token_hex(8)
        async with self._db.connection() as conn:
            await conn.execute(
                "INSERT INTO api_tokens (id, user_id, token_sha256, name, scopes, expires_at)"
                " VALUES (%s, %s, %s, %s, %s, CASE WHEN %s::float8 IS NULL THEN NULL"
                " ELSE now() + make_interval(secs => %s::float8) END)",
                (
                    token_id,
                    user_id,
                    hash_token(token),
                    name,
                    sorted(scopes) if scopes is not None else None,
                    ttl_s,
                    ttl_s,
                ),
            )
        return token_id, token

    async def lookup(
        self, token: str, *, limiter: RateLimiter | None = None, app_id: str | None = None
    ) -> TokenInfo | None:
        """The caller a valid, unrevoked, unexpired token stands for; None otherwise.

        With ``limiter``, the request is also counted against the user's rate limit
        in the same statement (one round trip instead of two); see ``TokenInfo.rate``.
        With ``app_id`` too, that statement also reads the app's owner and status
        (``TokenInfo.app``; nothing is decided on it here).
        """
        if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
            return None
        digest = hash_token(token)
        found = (
            "SELECT t.user_id, t.token_sha256, t.scopes, u.email_verified_at"
            " FROM api_tokens t JOIN users u ON u.id = t.user_id"
            " WHERE t.token_sha256 = %s AND t.revoked_at IS NULL"
            " AND (t.expires_at IS NULL OR t.expires_at > now())"
        )
        async with self._db.connection() as conn:
            if limiter is None:
                row = await (await conn.execute(found, (digest,))).fetchone()
            else:
                row = await limiter.counted(conn, found, (digest,), also_owner_and_status(app_id))
        if row is None or not hmac.compare_digest(bytes(row["token_sha256"]), digest):
            return None
        return TokenInfo(
            user_id=str(row["user_id"]),
            scopes=frozenset(row["scopes"]) if row["scopes"] is not None else None,
            verified=row["email_verified_at"] is not None,
            rate=limiter.read(row) if limiter is not None else None,
            app=AppRead.from_row(app_id, row) if limiter and app_id is not None else None,
        )

    async def verify(self, token: str) -> str | None:
        """The user id a valid, unrevoked token belongs to; None otherwise."""
        info = await self.lookup(token)
        return info.user_id if info else None

    async def list_for(self, user_id: str) -> list[TokenView]:
        """The user's live tokens, newest first."""
        async with self._db.connection() as conn:
            rows = await (
                await conn.execute(
                    "SELECT id, name, scopes, created_at, expires_at FROM api_tokens"
                    " WHERE user_id = %s AND revoked_at IS NULL"
                    " AND (expires_at IS NULL OR expires_at > now()) ORDER BY created_at DESC",
                    (user_id,),
                )
            ).fetchall()
        return [TokenView.model_validate(r) for r in rows]

    async def revoke(self, user_id: str, token_id: str) -> bool:
        """Revoke one of the user's tokens; False if they have no such live token."""
        async with self._db.connection() as conn:
            cur = await conn.execute(
                "UPDATE api_tokens SET revoked_at = now()"
                " WHERE id = %s AND user_id = %s AND revoked_at IS NULL",
                (token_id, user_id),
            )
        return cur.rowcount == 1

    async def revoke_all(self, user_id: str) -> int:
        """Revoke every token of a user; returns how many."""
        async with self._db.connection() as conn:
            cur = await conn.execute(
                "UPDATE api_tokens SET revoked_at = now()"
                " WHERE user_id = %s AND revoked_at IS NULL",
                (user_id,),
            )
        return cur.rowcount

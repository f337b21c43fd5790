"""Users: operator-provisioned ones and those who log in through OpenID Connect.

An OIDC user is found by (issuer, subject), never by email: two providers may
both vouch for "alice@example.com", and an email can change hands.
"""

from __future__ import annotations

import secrets
from datetime import datetime

from pydantic import BaseModel

from store.db import Database


class User(BaseModel):
    """One account as the API needs it."""

    id: str
    display_name: str
    issuer: str | None
    subject: str | None
    email: str | None
    email_verified_at: datetime | None
    suspended_at: datetime | None = None
    suspended_reason: str | None = None

    @property
    def verified(self) -> bool:
        """Whether the user may deploy and manage apps."""
        return self.email_verified_at is not None


_COLUMNS = (
    "id, display_name, issuer, subject, email, email_verified_at, suspended_at, suspended_reason"
)


class UserRepository:
    """Find, create and verify users."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def get(self, user_id: str) -> User | None:
        """The user with this id, if any."""
        async with self._db.connection() as conn:
            row = await (
                await conn.execute(f"SELECT {_COLUMNS} FROM users WHERE id = %s", (user_id,))  # noqa: S608 - constant columns
            ).fetchone()
        return User.model_validate(row) if row else None

    async def from_login(self, issuer: str, subject: str, email: str | None) -> User:
        """The user this provider's subject is, created on first login.

        A changed email is recorded and must be verified again before it counts.
        """
        upsert = (
            "INSERT INTO users (id, display_name, issuer, subject, email)"  # noqa: S608 - constant columns
            " VALUES (%s, %s, %s, %s, %s)"
            " ON CONFLICT (issuer, subject) DO UPDATE SET"
            "  email = EXCLUDED.email,"
            "  email_verified_at = CASE WHEN users.email IS NOT DISTINCT FROM"
            f"   EXCLUDED.email THEN users.email_verified_at END RETURNING {_COLUMNS}"
        )
        async with self._db.connection() as conn:
            row = await (
                await conn.execute(
                    upsert,
                    (f"u_{secrets.token_hex(8)}", email or subject, issuer, subject, email),
                )
            ).fetchone()
        assert row is not None
        return User.model_validate(row)

    async def suspend(self, user_id: str, reason: str) -> bool:
        """Stop the user deploying until an operator reinstates them; False if they
        already were (or there is no such user)."""
        async with self._db.connection() as conn:
            cur = await conn.execute(
                "UPDATE users SET suspended_at = now(), suspended_reason = %s"
                " WHERE id = %s AND suspended_at IS NULL",
                (reason[:500], user_id),
            )
        return cur.rowcount == 1

    async def reinstate(self, user_id: str) -> bool:
        """Lift a suspension; False if the user was not suspended (or is being erased)."""
        async with self._db.connection() as conn:
            cur = await conn.execute(
                "UPDATE users SET suspended_at = NULL, suspended_reason = NULL"
                " WHERE id = %s AND suspended_at IS NOT NULL AND NOT EXISTS"
                " (SELECT 1 FROM privacy_erasures e WHERE e.user_id = users.id)",
                (user_id,),
            )
        return cur.rowcount == 1

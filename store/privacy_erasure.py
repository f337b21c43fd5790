"""Erasing a user (GDPR art. 17, CCPA right to delete): the rows, in the database.

``begin`` cuts every way in at once: the login identity is detached (signing in
again makes a new, empty account), sessions and tokens are revoked and the user
is suspended. ``erase`` then deletes, in one transaction, everything that is
theirs: secrets and data keys, releases, QA reports, evidence and the generator's
repairs, exports and
the stored bundles and archives nobody else references, sessions, tokens,
verification links and mail. What is kept, for its retention period, is kept
pseudonymised: moderation entries lose the prompt text (digest, verdict and
categories stay), and the users row stays as a tombstone (its id, referenced by
the append-only audit log, is never reused) with nothing that names a person.
Every step is idempotent, so a retried activity changes nothing twice.
"""

from __future__ import annotations

import json
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import DictRow
from pydantic import BaseModel

from schemas.audit import Actor, AuditAction, AuditEvent, AuditOutcome
from schemas.privacy import ErasureStatus
from store.audit import AuditLog
from store.db import Database

Conn = AsyncConnection[DictRow]

ERASED_NAME = "erased user"
ERASURE_REASON = "erasure requested"


class UnknownUser(LookupError):
    """No such user: there is nothing to erase."""


class ErasureStart(BaseModel):
    """What ``begin`` found: the address for the last notice, and the apps to retire."""

    email: str | None
    verified: bool
    app_ids: list[str]


# Deleted (or pseudonymised) in this order: children before the rows they reference.
# %(user)s is the user id, %(apps)s their app ids, %(email)s their address.
_ERASE: tuple[tuple[str, str], ...] = (
    ("routes", "DELETE FROM routes WHERE app_id = ANY(%(apps)s)"),
    ("route_events", "DELETE FROM route_events WHERE app_id = ANY(%(apps)s)"),
    ("secrets", "DELETE FROM secrets WHERE owner_id = %(user)s OR app_id = ANY(%(apps)s)"),
    (
        "release_secret_versions",
        "DELETE FROM release_secret_versions WHERE app_id = ANY(%(apps)s)",
    ),
    ("data_keys", "DELETE FROM data_keys WHERE owner_id = %(user)s"),
    ("releases", "DELETE FROM releases WHERE app_id = ANY(%(apps)s)"),
    ("qa_evidence", "DELETE FROM qa_evidence WHERE app_id = ANY(%(apps)s)"),
    (
        "qa_reports",
        "DELETE FROM qa_reports WHERE owner_id = %(user)s OR app_id = ANY(%(apps)s)",
    ),
    (
        "generation_repairs",
        "DELETE FROM generation_repairs WHERE owner_id = %(user)s OR app_id = ANY(%(apps)s)",
    ),
    (
        "deployment_status_views",
        "DELETE FROM deployment_status_views WHERE app_id = ANY(%(apps)s)",
    ),
    ("app_status_views", "DELETE FROM app_status_views WHERE app_id = ANY(%(apps)s)"),
    ("privacy_exports", "DELETE FROM privacy_exports WHERE user_id = %(user)s"),
    (
        "moderation_pseudonymised",
        "UPDATE moderation_log SET prompt = NULL, pseudonymised_at = now()"
        " WHERE owner_id = %(user)s AND prompt IS NOT NULL",
    ),
    ("sessions", "DELETE FROM sessions WHERE user_id = %(user)s"),
    ("tokens", "DELETE FROM api_tokens WHERE user_id = %(user)s"),
    ("email_verifications", "DELETE FROM email_verifications WHERE user_id = %(user)s"),
    ("mail", "DELETE FROM mail_outbox WHERE recipient = %(email)s"),
    ("rate_limits", "DELETE FROM rate_limits WHERE key = 'user:' || %(user)s"),
    (
        "apps_deleted",
        "UPDATE apps SET deleted_at = now() WHERE owner_id = %(user)s AND deleted_at IS NULL",
    ),
)

# The content-addressed blobs the user's rows pointed at (bundles, QA reports, exports).
_THEIR_ARTIFACTS = (
    "SELECT bundle_hash AS sha256 FROM releases WHERE app_id = ANY(%(apps)s)"
    " UNION SELECT bundle_hash FROM qa_reports WHERE owner_id = %(user)s"
    " UNION SELECT report_sha256 FROM qa_reports WHERE owner_id = %(user)s"
    " UNION SELECT bundle_hash FROM generation_repairs WHERE owner_id = %(user)s"
    " UNION SELECT sha256 FROM privacy_exports WHERE user_id = %(user)s"
)

# ...deleted once no row of anybody else still points at them.
_DELETE_UNREFERENCED = (
    "DELETE FROM artifacts a WHERE a.sha256 = ANY(%(hashes)s)"
    " AND NOT EXISTS (SELECT 1 FROM releases r WHERE r.bundle_hash = a.sha256)"
    " AND NOT EXISTS (SELECT 1 FROM qa_reports q"
    "   WHERE q.report_sha256 = a.sha256 OR q.bundle_hash = a.sha256)"
    " AND NOT EXISTS (SELECT 1 FROM qa_evidence e"
    "   WHERE e.bundle_hash = a.sha256 OR e.report_sha256 = a.sha256)"
    " AND NOT EXISTS (SELECT 1 FROM privacy_exports p WHERE p.sha256 = a.sha256)"
    " AND NOT EXISTS (SELECT 1 FROM generation_repairs g WHERE g.bundle_hash = a.sha256)"
)

_TOMBSTONE = (
    "UPDATE users SET display_name = %(name)s, issuer = NULL, subject = NULL, email = NULL,"
    " email_verified_at = NULL, erased_at = now() WHERE id = %(user)s"
)


class PrivacyErasures:
    """The erasure steps over the database, each idempotent and audited."""

    def __init__(self, db: Database, audit: AuditLog) -> None:
        self._db = db
        self._audit = audit

    async def begin(self, user_id: str, requested_by: str) -> ErasureStart:
        """Record the request and shut the account: no session, token or login works."""
        async with self._db.transaction() as conn:
            user = await (
                await conn.execute(
                    "SELECT email, email_verified_at IS NOT NULL AS verified, erased_at"
                    " FROM users WHERE id = %s FOR UPDATE",
                    (user_id,),
                )
            ).fetchone()
            if user is None:
                raise UnknownUser(f"no user {user_id}")
            new = await conn.execute(
                "INSERT INTO privacy_erasures (user_id, requested_by) VALUES (%s, %s)"
                " ON CONFLICT (user_id) DO NOTHING",
                (user_id, requested_by),
            )
            await conn.execute(
                "UPDATE users SET issuer = NULL, subject = NULL,"
                " suspended_at = coalesce(suspended_at, now()), suspended_reason = %s"
                " WHERE id = %s",
                (ERASURE_REASON, user_id),
            )
            await conn.execute(
                "UPDATE sessions SET revoked_at = now() WHERE user_id = %s AND revoked_at IS NULL",
                (user_id,),
            )
            await conn.execute(
                "UPDATE api_tokens SET revoked_at = now()"
                " WHERE user_id = %s AND revoked_at IS NULL",
                (user_id,),
            )
            apps = await (
                await conn.execute(
                    "SELECT app_id FROM apps WHERE owner_id = %s ORDER BY app_id", (user_id,)
                )
            ).fetchall()
            if new.rowcount == 1:
                await self._audit.append(
                    conn, _event(requested_by, user_id, {"step": "requested", "apps": len(apps)})
                )
        return ErasureStart(
            email=user["email"],
            verified=bool(user["verified"]) and user["erased_at"] is None,
            app_ids=[str(row["app_id"]) for row in apps],
        )

    async def notice_mail_id(self, user_id: str) -> int | None:
        """The outbox id of the last notice, once it was queued."""
        async with self._db.connection() as conn:
            row = await (
                await conn.execute(
                    "SELECT notice_mail_id FROM privacy_erasures WHERE user_id = %s", (user_id,)
                )
            ).fetchone()
        return None if row is None or row["notice_mail_id"] is None else int(row["notice_mail_id"])

    async def record_notice(self, user_id: str, mail_id: int) -> None:
        """Remember the notice's outbox id (so a retry re-delivers, never re-queues)."""
        async with self._db.connection() as conn:
            await conn.execute(
                "UPDATE privacy_erasures SET notice_mail_id = %s WHERE user_id = %s",
                (mail_id, user_id),
            )

    async def erase(self, user_id: str) -> dict[str, int]:
        """Delete the user's rows and pseudonymise what is kept; the counts of the
        first run (a repeated run finds nothing left and returns them again)."""
        async with self._db.transaction() as conn:
            request = await (
                await conn.execute(
                    "SELECT erased FROM privacy_erasures WHERE user_id = %s FOR UPDATE",
                    (user_id,),
                )
            ).fetchone()
            if request is None:
                raise UnknownUser(f"no erasure was requested for {user_id}")
            if request["erased"] is not None:
                return {str(k): int(v) for k, v in request["erased"].items()}
            counts = await self._erase_rows(conn, user_id)
            await conn.execute(
                "UPDATE privacy_erasures SET erased = %s WHERE user_id = %s",
                (json.dumps(counts), user_id),
            )
        return counts

    @staticmethod
    async def _erase_rows(conn: Conn, user_id: str) -> dict[str, int]:
        user = await (
            await conn.execute("SELECT email FROM users WHERE id = %s", (user_id,))
        ).fetchone()
        assert user is not None  # the erasure row references it
        apps = await (
            await conn.execute("SELECT app_id FROM apps WHERE owner_id = %s", (user_id,))
        ).fetchall()
        params: dict[str, Any] = {
            "user": user_id,
            "apps": [str(row["app_id"]) for row in apps],
            "email": user["email"],
        }
        hashes = [
            str(row["sha256"])
            for row in await (await conn.execute(_THEIR_ARTIFACTS, params)).fetchall()
        ]
        counts: dict[str, int] = {}
        for what, statement in _ERASE:
            counts[what] = (await conn.execute(statement, params)).rowcount
        counts["artifacts"] = (
            await conn.execute(_DELETE_UNREFERENCED, {"hashes": hashes})
        ).rowcount
        await conn.execute(_TOMBSTONE, {"name": ERASED_NAME, "user": user_id})
        return counts

    async def key_shredded(self, user_id: str) -> None:
        """Record that the user's erasure key file is gone."""
        async with self._db.connection() as conn:
            await conn.execute(
                "UPDATE privacy_erasures SET key_shredded = true WHERE user_id = %s", (user_id,)
            )

    async def finish(self, user_id: str, histories_deleted: int) -> ErasureStatus:
        """Mark the erasure done, audited once (with counts, never personal data)."""
        async with self._db.transaction() as conn:
            row = await (
                await conn.execute(
                    "UPDATE privacy_erasures SET finished_at = now()"
                    " WHERE user_id = %s AND finished_at IS NULL RETURNING requested_by, erased",
                    (user_id,),
                )
            ).fetchone()
            if row is not None:
                detail = {
                    "step": "finished",
                    "rows": sum(int(n) for n in (row["erased"] or {}).values()),
                    "histories": histories_deleted,
                }
                await self._audit.append(conn, _event(str(row["requested_by"]), user_id, detail))
        status = await self.status(user_id)
        assert status is not None
        return status

    async def status(self, user_id: str) -> ErasureStatus | None:
        """The recorded erasure of ``user_id``, if one was requested."""
        async with self._db.connection() as conn:
            row = await (
                await conn.execute(
                    "SELECT user_id, requested_by, requested_at, erased, key_shredded, finished_at"
                    " FROM privacy_erasures WHERE user_id = %s",
                    (user_id,),
                )
            ).fetchone()
        return None if row is None else ErasureStatus.model_validate(row)


def _event(actor: str, user_id: str, detail: dict[str, Any]) -> AuditEvent:
    return AuditEvent(
        actor=Actor(user_id=actor),
        action=AuditAction.PRIVACY_ERASE,
        resource=f"user:{user_id}",
        outcome=AuditOutcome.OK,
        detail=detail,
    )

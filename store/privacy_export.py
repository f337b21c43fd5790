"""Everything held about one user, as a zip of JSON documents (one per section).

Secrets appear as names and versions only (never values or ciphertexts), tokens
and sessions without their hashes; other users' rows never appear: every query
is keyed by the user's id (or the apps they own).
"""

from __future__ import annotations

import io
import json
import zipfile
from datetime import datetime
from typing import Any

from store.db import Database

# section -> query; %(user)s is the user's id.
_SECTIONS: dict[str, str] = {
    "account": "SELECT id, display_name, issuer, subject, email, email_verified_at,"
    " suspended_at, suspended_reason, created_at FROM users WHERE id = %(user)s",
    "apps": "SELECT app_id, created_at, deleted_at FROM apps WHERE owner_id = %(user)s",
    "releases": "SELECT r.app_id, r.version, r.deployment_id, r.bundle_hash, r.created_at"
    " FROM releases r JOIN apps a USING (app_id) WHERE a.owner_id = %(user)s",
    "qa_reports": "SELECT deployment_id, attempt, app_id, verdict, summary, report_sha256,"
    " created_at FROM qa_reports WHERE owner_id = %(user)s",
    "generation_repairs": "SELECT deployment_id, app_id, attempt, from_bundle_hash, bundle_hash,"
    " report_sha256, backend, created_at FROM generation_repairs WHERE owner_id = %(user)s",
    "secrets": "SELECT app_id, name, version, size, created_at, deleted_at FROM secrets"
    " WHERE owner_id = %(user)s",
    "moderation": "SELECT deployment_id, app_id, prompt, verdict, categories, reason, created_at"
    " FROM moderation_log WHERE owner_id = %(user)s",
    "audit": "SELECT seq, at, actor, client_ip, action, resource, outcome, detail FROM audit_log"
    " WHERE actor = %(user)s OR resource = 'user:' || %(user)s",
    "sessions": "SELECT created_at, last_seen_at, revoked_at, client_ip, user_agent"
    " FROM sessions WHERE user_id = %(user)s",
    "tokens": "SELECT id, name, scopes, created_at, expires_at, revoked_at FROM api_tokens"
    " WHERE user_id = %(user)s",
    "incidents": "SELECT at, kind, app_id, from_version, to_version, reason, actor"
    " FROM incidents WHERE owner_id = %(user)s",
    "mail": "SELECT recipient, subject, created_at, sent_at FROM mail_outbox"
    " WHERE recipient = (SELECT email FROM users WHERE id = %(user)s)",
}


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bytes | memoryview):
        return None
    return value


async def collect(db: Database, user_id: str) -> dict[str, list[dict[str, Any]]]:
    """Every section's rows about ``user_id``."""
    found: dict[str, list[dict[str, Any]]] = {}
    async with db.connection() as conn:
        for section, query in _SECTIONS.items():
            rows = await (await conn.execute(query, {"user": user_id})).fetchall()
            found[section] = [{k: _plain(v) for k, v in row.items()} for row in rows]
    return found


def archive(export_id: str, user_id: str, sections: dict[str, list[dict[str, Any]]]) -> bytes:
    """The zip a user downloads: a README, then one JSON document per section."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        readme = (
            f"MicroBuilder data export {export_id} for user {user_id}.\n"
            "One JSON file per kind of data we hold about you. Secret values, token\n"
            "hashes and session ids are never exported: they are credentials.\n"
        )
        zf.writestr(zipfile.ZipInfo("README.txt", date_time=(2000, 1, 1, 0, 0, 0)), readme)
        for section, rows in sections.items():
            info = zipfile.ZipInfo(f"{section}.json", date_time=(2000, 1, 1, 0, 0, 0))
            zf.writestr(info, json.dumps(rows, indent=2, sort_keys=True, default=str))
    return buffer.getvalue()


class PrivacyExports:
    """Where built exports are recorded."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def record(
        self, export_id: str, user_id: str, sha256: str, size: int, sections: dict[str, int]
    ) -> None:
        """Record the export once (a retried activity changes nothing)."""
        async with self._db.connection() as conn:
            await conn.execute(
                "INSERT INTO privacy_exports (export_id, user_id, sha256, size, sections)"
                " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (export_id) DO NOTHING",
                (export_id, user_id, sha256, size, json.dumps(sections)),
            )

    async def find(self, export_id: str) -> tuple[str, str] | None:
        """(user id, archive hash) of an export, if it was built."""
        async with self._db.connection() as conn:
            row = await (
                await conn.execute(
                    "SELECT user_id, sha256 FROM privacy_exports WHERE export_id = %s",
                    (export_id,),
                )
            ).fetchone()
        return (str(row["user_id"]), str(row["sha256"])) if row else None

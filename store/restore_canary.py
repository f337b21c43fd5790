"""The restore drill's canary row: what a restored copy must be able to open.

The canary is a secret of the system owner ``system:restore-drill`` (app
``mb-restore-drill``, reserved by a migration) whose value is random and
rewritten before every base backup. Beside it, one row holds the SHA-256 of the
value, a Temporal payload encrypted with the payload key ring, and an evidence
signature over ``statement(...)``. A drill that restores the database and the
keys must reveal the secret to that hash, decode the payload and verify the
signature: rows that restore but cannot be opened fail the drill.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from pydantic import BaseModel

from store.db import Database

CANARY_OWNER = "system:restore-drill"
CANARY_APP = "mb-restore-drill"
CANARY_SECRET_NAME = "RESTORE_CANARY"  # noqa: S105 - a name, not a value


class CanaryRecord(BaseModel):
    """The canary row."""

    secret_version: int
    value_sha256: str
    payload: bytes
    evidence_key_id: str
    signature: bytes
    refreshed_at: datetime | None = None


def payload_plaintext(secret_version: int, value_sha256: str) -> bytes:
    """The canary payload's data before encryption (JSON, bound to the secret version)."""
    return f'{{"canary": {secret_version}, "value_sha256": "{value_sha256}"}}'.encode()


def statement(record: CanaryRecord) -> bytes:
    """What the evidence key signs: the version, the value's hash and the payload."""
    payload_sha256 = hashlib.sha256(record.payload).hexdigest()
    return (
        f"mb-restore-canary/1 {record.secret_version} {record.value_sha256} {payload_sha256}"
    ).encode()


class CanaryStore:
    """Read and replace the one canary row."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def save(self, record: CanaryRecord) -> None:
        """Replace the canary row."""
        async with self._db.connection() as conn:
            await conn.execute(
                "INSERT INTO restore_canary (id, secret_version, value_sha256, payload,"
                " evidence_key_id, signature) VALUES (1, %s, %s, %s, %s, %s)"
                " ON CONFLICT (id) DO UPDATE SET secret_version = excluded.secret_version,"
                " value_sha256 = excluded.value_sha256, payload = excluded.payload,"
                " evidence_key_id = excluded.evidence_key_id, signature = excluded.signature,"
                " refreshed_at = now()",
                (
                    record.secret_version,
                    record.value_sha256,
                    record.payload,
                    record.evidence_key_id,
                    record.signature,
                ),
            )

    async def load(self) -> CanaryRecord | None:
        """The canary row, if one was written."""
        async with self._db.connection() as conn:
            row = await (
                await conn.execute(
                    "SELECT secret_version, value_sha256, payload, evidence_key_id, signature,"
                    " refreshed_at FROM restore_canary WHERE id = 1"
                )
            ).fetchone()
        return None if row is None else CanaryRecord.model_validate(row)

    async def newest_release(self) -> tuple[str, int] | None:
        """(app, version) of the newest release that carries evidence."""
        async with self._db.connection() as conn:
            row = await (
                await conn.execute(
                    "SELECT app_id, version FROM releases WHERE evidence_id IS NOT NULL"
                    " ORDER BY created_at DESC, version DESC LIMIT 1"
                )
            ).fetchone()
        return None if row is None else (str(row["app_id"]), int(row["version"]))

    async def reveals_audited(self) -> int:
        """How many reveals of the canary the audit log holds (the drill's, in a copy)."""
        async with self._db.connection() as conn:
            row = await (
                await conn.execute(
                    "SELECT count(*) AS n FROM audit_log WHERE actor = %s AND action = %s"
                    " AND resource = %s",
                    (CANARY_OWNER, "secret.reveal", f"secret:{CANARY_APP}/{CANARY_SECRET_NAME}"),
                )
            ).fetchone()
        return int(row["n"]) if row else 0

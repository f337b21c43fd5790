"""The content-addressed artifact store (bundles, QA reports), in PostgreSQL.

Artifacts are immutable and keyed by the SHA-256 of their bytes, so writes are
idempotent and a workflow only ever needs to carry the hash.
"""

from __future__ import annotations

import hashlib

from store.db import Database


class ArtifactNotFound(LookupError):
    """No artifact has this hash."""


class ArtifactStore:
    """Put and get immutable blobs by hash."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def put(self, kind: str, data: bytes) -> str:
        """Store ``data`` (idempotent); returns its SHA-256 hex."""
        digest = hashlib.sha256(data).hexdigest()
        async with self._db.connection() as conn:
            await conn.execute(
                "INSERT INTO artifacts (sha256, kind, size, data) VALUES (%s, %s, %s, %s)"
                " ON CONFLICT (sha256) DO NOTHING",
                (digest, kind, len(data), data),
            )
        return digest

    async def get(self, digest: str) -> bytes:
        """The bytes stored under ``digest``, verified against it."""
        async with self._db.connection() as conn:
            row = await (
                await conn.execute("SELECT data FROM artifacts WHERE sha256 = %s", (digest,))
            ).fetchone()
        if row is None:
            raise ArtifactNotFound(f"no artifact {digest}")
        data = bytes(row["data"])
        if hashlib.sha256(data).hexdigest() != digest:
            raise ArtifactNotFound(f"artifact {digest} is corrupt")
        return data

    async def exists(self, digest: str) -> bool:
        """Whether an artifact with this hash is stored."""
        async with self._db.connection() as conn:
            row = await (
                await conn.execute("SELECT 1 FROM artifacts WHERE sha256 = %s", (digest,))
            ).fetchone()
        return row is not None

"""Repaired bundles, kept per deployment, attempt and the bundle they repair.

A repair asks a model, which costs money and gives a different answer each time;
storing its bundle under (app, deployment, attempt, bundle repaired) makes the
repair activity idempotent: a retry, on this worker or another one after a crash,
finds the bundle here and never asks the generator twice for the same attempt.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from store.db import Database


class RepairRow(BaseModel):
    """One stored repair."""

    app_id: str
    deployment_id: str
    attempt: int
    from_bundle_hash: str
    owner_id: str
    report_sha256: str
    bundle_hash: str
    backend: str
    file_count: int
    findings_chars: int
    created_at: datetime


class GenerationRepairs:
    """Find and save repaired bundles (the first save of an attempt wins)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def find(
        self, app_id: str, deployment_id: str, attempt: int, from_bundle_hash: str
    ) -> RepairRow | None:
        """The repair stored for this attempt of this bundle, if any."""
        async with self._db.connection() as conn:
            row = await (
                await conn.execute(
                    "SELECT * FROM generation_repairs WHERE app_id = %s AND deployment_id = %s"
                    " AND attempt = %s AND from_bundle_hash = %s",
                    (app_id, deployment_id, attempt, from_bundle_hash),
                )
            ).fetchone()
        return None if row is None else RepairRow.model_validate(row)

    async def save(
        self,
        *,
        app_id: str,
        deployment_id: str,
        attempt: int,
        from_bundle_hash: str,
        owner_id: str,
        report_sha256: str,
        bundle_hash: str,
        backend: str,
        file_count: int,
        findings_chars: int,
    ) -> RepairRow:
        """Keep a repair; when one is already stored for the attempt, that one is returned."""
        async with self._db.connection() as conn:
            await conn.execute(
                "INSERT INTO generation_repairs (app_id, deployment_id, attempt,"
                " from_bundle_hash, owner_id, report_sha256, bundle_hash, backend, file_count,"
                " findings_chars) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
                " ON CONFLICT DO NOTHING",
                (
                    app_id,
                    deployment_id,
                    attempt,
                    from_bundle_hash,
                    owner_id,
                    report_sha256,
                    bundle_hash,
                    backend,
                    file_count,
                    findings_chars,
                ),
            )
        row = await self.find(app_id, deployment_id, attempt, from_bundle_hash)
        assert row is not None
        return row

    async def for_deployment(self, app_id: str, deployment_id: str) -> list[RepairRow]:
        """Every repair of a deployment, in attempt order."""
        async with self._db.connection() as conn:
            rows = await (
                await conn.execute(
                    "SELECT * FROM generation_repairs WHERE app_id = %s AND deployment_id = %s"
                    " ORDER BY attempt, created_at",
                    (app_id, deployment_id),
                )
            ).fetchall()
        return [RepairRow.model_validate(r) for r in rows]

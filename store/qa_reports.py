"""QA gate reports (one per deployment and attempt) and the signed evidence of passed gates."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from store.db import Database


class QAReportRow(BaseModel):
    """Where a deployment's QA report is, and its verdict.

    A prompt deployment whose generated bundle fails may have its bundle repaired and
    judged again: ``attempt`` 1 is the generated bundle, each later one a repair.
    """

    deployment_id: str
    attempt: int = 1
    app_id: str
    owner_id: str
    bundle_hash: str
    verdict: str
    report_sha256: str
    summary: str
    created_at: datetime


class EvidenceRow(BaseModel):
    """A signed evidence record, as stored."""

    id: str
    deployment_id: str
    app_id: str
    bundle_hash: str
    report_sha256: str
    payload: str
    key_id: str
    signature: bytes
    created_at: datetime | None = None


class QAReportRepository:
    """Save and find reports and evidence (idempotent per deployment)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def save_report(
        self,
        *,
        deployment_id: str,
        app_id: str,
        owner_id: str,
        bundle_hash: str,
        verdict: str,
        report_sha256: str,
        summary: str,
        attempt: int = 1,
    ) -> QAReportRow:
        """Record the report once per deployment and attempt; returns the stored row."""
        async with self._db.connection() as conn:
            await conn.execute(
                "INSERT INTO qa_reports (deployment_id, attempt, app_id, owner_id, bundle_hash,"
                " verdict, report_sha256, summary) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
                " ON CONFLICT (deployment_id, attempt) DO NOTHING",
                (
                    deployment_id,
                    attempt,
                    app_id,
                    owner_id,
                    bundle_hash,
                    verdict,
                    report_sha256,
                    summary,
                ),
            )
        row = await self.report(deployment_id, attempt)
        assert row is not None
        return row

    async def report(self, deployment_id: str, attempt: int | None = None) -> QAReportRow | None:
        """The report row of one attempt of a deployment (None: its latest, whose verdict
        is the deployment's)."""
        async with self._db.connection() as conn:
            row = await (
                await conn.execute(
                    "SELECT * FROM qa_reports WHERE deployment_id = %s"
                    " AND (%s::integer IS NULL OR attempt = %s) ORDER BY attempt DESC LIMIT 1",
                    (deployment_id, attempt, attempt),
                )
            ).fetchone()
        return None if row is None else QAReportRow.model_validate(row)

    async def reports(self, deployment_id: str) -> list[QAReportRow]:
        """Every attempt's report row of a deployment, oldest first."""
        async with self._db.connection() as conn:
            rows = await (
                await conn.execute(
                    "SELECT * FROM qa_reports WHERE deployment_id = %s ORDER BY attempt",
                    (deployment_id,),
                )
            ).fetchall()
        return [QAReportRow.model_validate(r) for r in rows]

    async def save_evidence(self, evidence: EvidenceRow) -> EvidenceRow:
        """Store evidence once per deployment; a retry gets the first record back."""
        async with self._db.connection() as conn:
            await conn.execute(
                "INSERT INTO qa_evidence (id, deployment_id, app_id, bundle_hash, report_sha256,"
                " payload, key_id, signature) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
                " ON CONFLICT (deployment_id) DO NOTHING",
                (
                    evidence.id,
                    evidence.deployment_id,
                    evidence.app_id,
                    evidence.bundle_hash,
                    evidence.report_sha256,
                    evidence.payload,
                    evidence.key_id,
                    evidence.signature,
                ),
            )
            row = await (
                await conn.execute(
                    "SELECT * FROM qa_evidence WHERE deployment_id = %s",
                    (evidence.deployment_id,),
                )
            ).fetchone()
        return EvidenceRow.model_validate(row)

    async def evidence(self, evidence_id: str) -> EvidenceRow | None:
        """One evidence record."""
        async with self._db.connection() as conn:
            row = await (
                await conn.execute("SELECT * FROM qa_evidence WHERE id = %s", (evidence_id,))
            ).fetchone()
        return None if row is None else EvidenceRow.model_validate(row)

    async def evidence_for_bundle(self, app_id: str, bundle_hash: str) -> list[EvidenceRow]:
        """Every evidence record of this app for this bundle, newest first."""
        async with self._db.connection() as conn:
            rows = await (
                await conn.execute(
                    "SELECT * FROM qa_evidence WHERE app_id = %s AND bundle_hash = %s"
                    " ORDER BY created_at DESC",
                    (app_id, bundle_hash),
                )
            ).fetchall()
        return [EvidenceRow.model_validate(r) for r in rows]

    async def evidence_for_release(self, app_id: str, version: int) -> EvidenceRow | None:
        """The evidence a release was deployed with."""
        async with self._db.connection() as conn:
            row = await (
                await conn.execute(
                    "SELECT e.* FROM releases r JOIN qa_evidence e ON e.id = r.evidence_id"
                    " WHERE r.app_id = %s AND r.version = %s",
                    (app_id, version),
                )
            ).fetchone()
        return None if row is None else EvidenceRow.model_validate(row)

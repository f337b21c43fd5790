"""Signed QA evidence: nothing unsigned, altered or foreign verifies (real PostgreSQL)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from activities.qa.evidence import EvidenceInvalid, EvidenceService
from schemas.qa import QAGateReport, StaticReport, TestsReport
from store.artifacts import ArtifactStore
from store.db import Database
from store.keyring import KeyRingError, SigningKeyRing
from store.qa_reports import EvidenceRow, QAReportRepository

BUNDLE = b'{"a bundle": true}'


def _report(bundle_hash: str, verdict: str = "pass") -> QAGateReport:
    return QAGateReport(
        bundle_hash=bundle_hash,
        verdict=verdict,
        stages=[
            TestsReport(verdict="pass", reason="3/3 runs passed", runs=[]),
            StaticReport(
                verdict=verdict,
                reason="clean",
                files_scanned=2,
                policy="HIGH",
            ),
        ],
        tool_versions={"bandit": "1.9.4"},
    )


class World:
    def __init__(self, db: Database, keys: Path) -> None:
        self.artifacts = ArtifactStore(db)
        self.reports = QAReportRepository(db)
        self.ring = SigningKeyRing(keys)
        self.service = EvidenceService(self.reports, self.artifacts, self.ring)

    async def passed(self, app_id: str = "tips-app", deployment_id: str = "d1") -> EvidenceRow:
        bundle_hash = await self.artifacts.put("bundle", BUNDLE)
        report = _report(bundle_hash)
        report_hash = await self.artifacts.put("qa-report", report.model_dump_json().encode())
        return await self.service.sign(
            report, report_hash=report_hash, app_id=app_id, deployment_id=deployment_id
        )


@pytest.fixture
def world(db: Database, tmp_path: Path) -> World:
    return World(db, tmp_path / "keys")


async def test_a_passed_gate_is_signed_and_verifies(world: World) -> None:
    row = await world.passed()
    payload = await world.service.verify(row)
    assert payload.verdicts == {"tests": "pass", "static": "pass"}
    assert payload.tool_versions == {"bandit": "1.9.4"}
    assert (await world.service.require("tips-app", row.bundle_hash)).id == row.id
    again = await world.passed()  # a retried activity signs nothing new
    assert again.id == row.id


async def test_a_failed_gate_gets_no_evidence(world: World) -> None:
    bundle_hash = await world.artifacts.put("bundle", BUNDLE)
    with pytest.raises(EvidenceInvalid, match="only a passed gate"):
        await world.service.sign(
            _report(bundle_hash, "fail"), report_hash="0" * 64, app_id="x-app", deployment_id="d"
        )
    with pytest.raises(EvidenceInvalid, match="never passed"):
        await world.service.require("x-app", bundle_hash)


async def test_a_tampered_payload_does_not_verify(world: World, db: Database) -> None:
    row = await world.passed()
    forged = row.payload.replace('"static":"pass"', '"static":"fail"')
    assert forged != row.payload
    with pytest.raises(EvidenceInvalid, match="does not match its id"):
        await world.service.verify(row.model_copy(update={"payload": forged}))


async def test_a_signature_by_a_foreign_key_does_not_verify(world: World) -> None:
    row = await world.passed()
    mallory = Ed25519PrivateKey.generate()
    forged = row.model_copy(update={"signature": mallory.sign(row.payload.encode())})
    with pytest.raises(EvidenceInvalid, match="signature"):
        await world.service.verify(forged)
    with pytest.raises(EvidenceInvalid, match="signature"):
        await world.service.verify(row.model_copy(update={"key_id": "0" * 16}))


async def test_an_altered_report_or_bundle_breaks_the_evidence(world: World, db: Database) -> None:
    row = await world.passed()
    async with db.connection() as conn:
        await conn.execute(
            "UPDATE artifacts SET data = %s WHERE sha256 = %s", (b"{}", row.report_sha256)
        )
    with pytest.raises(EvidenceInvalid, match="corrupt"):
        await world.service.verify(row)
    with pytest.raises(EvidenceInvalid, match="no valid QA evidence"):
        await world.service.require("tips-app", row.bundle_hash)


async def test_another_apps_evidence_does_not_count(world: World) -> None:
    row = await world.passed(app_id="alice-app")
    with pytest.raises(EvidenceInvalid, match="never passed"):
        await world.service.require("mallory-app", row.bundle_hash)


async def test_old_evidence_verifies_after_key_rotation(world: World) -> None:
    row = await world.passed()
    new_kid = world.ring.rotate()
    assert new_kid != row.key_id
    await world.service.verify(row)
    later = await world.passed(deployment_id="d2")
    assert later.key_id == new_kid


async def test_a_private_key_readable_by_others_is_refused(world: World) -> None:
    kid = world.ring.current()
    key = world.ring.root / f"{kid}.key"
    assert key.stat().st_mode & 0o777 == 0o600
    os.chmod(key, 0o644)
    with pytest.raises(KeyRingError, match="chmod 600"):
        world.ring.sign(b"x")

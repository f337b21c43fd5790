"""Release evidence: a signed record that a bundle passed the whole QA gate.

When the gate passes, the bundle hash, the report hash, every stage verdict,
the policy (thresholds) and the tool versions are serialised canonically and
signed with the current key of the evidence key ring. Runtime hosts refuse to
start a release without valid evidence, so a bundle that never passed, or
whose bundle or report was altered afterwards, is never deployed or rolled
back to.
"""

from __future__ import annotations

import hashlib
import json

from pydantic import BaseModel, ValidationError

from schemas.qa import QAGateReport
from store.artifacts import ArtifactNotFound, ArtifactStore
from store.keyring import EvidenceKeys
from store.qa_reports import EvidenceRow, QAReportRepository

EVIDENCE_VERSION = 1


class EvidenceInvalid(RuntimeError):
    """Missing, unverifiable or contradicted evidence; the message says which."""


class EvidencePayload(BaseModel):
    """What is signed."""

    v: int = EVIDENCE_VERSION
    app_id: str
    deployment_id: str
    bundle_hash: str
    report_hash: str
    verdicts: dict[str, str]
    policy: dict[str, object]
    tool_versions: dict[str, str]

    def canonical(self) -> bytes:
        """Stable bytes: sorted keys, no whitespace."""
        return json.dumps(
            self.model_dump(mode="json"), sort_keys=True, separators=(",", ":")
        ).encode()


class EvidenceService:
    """Signs evidence for passed gates and verifies it before anything starts."""

    def __init__(
        self, reports: QAReportRepository, artifacts: ArtifactStore, keys: EvidenceKeys
    ) -> None:
        self._reports = reports
        self._artifacts = artifacts
        self._keys = keys

    async def sign(
        self, report: QAGateReport, *, report_hash: str, app_id: str, deployment_id: str
    ) -> EvidenceRow:
        """Sign a passed report (idempotent per deployment)."""
        if report.verdict != "pass" or any(s.verdict != "pass" for s in report.stages):
            raise EvidenceInvalid("only a passed gate gets evidence")
        payload = EvidencePayload(
            app_id=app_id,
            deployment_id=deployment_id,
            bundle_hash=report.bundle_hash,
            report_hash=report_hash,
            verdicts={s.stage: s.verdict for s in report.stages},
            policy=report.policy.model_dump(mode="json"),
            tool_versions=report.tool_versions,
        ).canonical()
        kid, signature = self._keys.sign(payload)
        return await self._reports.save_evidence(
            EvidenceRow(
                id=hashlib.sha256(payload).hexdigest(),
                deployment_id=deployment_id,
                app_id=app_id,
                bundle_hash=report.bundle_hash,
                report_sha256=report_hash,
                payload=payload.decode(),
                key_id=kid,
                signature=signature,
            )
        )

    async def verify(self, row: EvidenceRow) -> EvidencePayload:
        """Check signature, record, bundle and report; raises EvidenceInvalid."""
        raw = row.payload.encode()
        if hashlib.sha256(raw).hexdigest() != row.id:
            raise EvidenceInvalid(f"evidence {row.id[:12]}: payload does not match its id")
        if not self._keys.verify(row.key_id, raw, row.signature):
            raise EvidenceInvalid(f"evidence {row.id[:12]}: signature does not verify")
        try:
            payload = EvidencePayload.model_validate_json(raw)
        except ValidationError:
            raise EvidenceInvalid(f"evidence {row.id[:12]}: unreadable payload") from None
        if (payload.app_id, payload.bundle_hash, payload.report_hash) != (
            row.app_id,
            row.bundle_hash,
            row.report_sha256,
        ):
            raise EvidenceInvalid(f"evidence {row.id[:12]}: record disagrees with its payload")
        try:
            await self._artifacts.get(payload.bundle_hash)  # verifies the bytes' hash
            report = QAGateReport.model_validate_json(
                await self._artifacts.get(payload.report_hash)
            )
        except (ArtifactNotFound, ValidationError) as err:
            raise EvidenceInvalid(f"evidence {row.id[:12]}: {err}") from None
        if report.bundle_hash != payload.bundle_hash or report.verdict != "pass":
            raise EvidenceInvalid(
                f"evidence {row.id[:12]}: the report is not a pass of this bundle"
            )
        if {s.stage: s.verdict for s in report.stages} != payload.verdicts:
            raise EvidenceInvalid(f"evidence {row.id[:12]}: verdicts differ from the report")
        return payload

    async def require(self, app_id: str, bundle_hash: str) -> EvidenceRow:
        """The newest valid evidence of this app for this bundle, or EvidenceInvalid."""
        rows = await self._reports.evidence_for_bundle(app_id, bundle_hash)
        problems = []
        for row in rows:
            try:
                await self.verify(row)
            except EvidenceInvalid as err:
                problems.append(str(err))
                continue
            return row
        detail = "; ".join(problems) if problems else "the bundle never passed the QA gate"
        raise EvidenceInvalid(
            f"no valid QA evidence for {app_id} bundle {bundle_hash[:12]}: {detail}"
        )

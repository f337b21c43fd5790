"""Proving a restored copy can be used, not only counted: the drill's canary checks.

``write_canary`` runs on the live stack before a base backup: a new random value
of the canary secret (audited like any secret write), a payload encrypted with
the payload keys, an evidence signature over both. ``check_usable`` runs on the
restored copy with the restored keys: it reveals the canary (audited in the copy,
never in the live log), compares it with its recorded hash, decodes the payload,
verifies the signature and the newest release's QA evidence.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from temporalio.api.common.v1 import Payload

from activities.qa.evidence import EvidenceInvalid, EvidenceService
from schemas.audit import Actor
from schemas.backups import UsabilityCheck
from store.aes_keys import AesKeyRing, KeyDirectory
from store.apps import AppRepository
from store.artifacts import ArtifactStore
from store.audit import AuditLog
from store.db import Database
from store.envelope import Envelope
from store.key_rings import CODEC, MASTER
from store.keyring import EvidenceKeys, SigningKeyRing
from store.owner_keys import OwnerKeys
from store.qa_reports import QAReportRepository
from store.restore_canary import (
    CANARY_APP,
    CANARY_OWNER,
    CANARY_SECRET_NAME,
    CanaryRecord,
    CanaryStore,
    payload_plaintext,
    statement,
)
from store.secrets import SecretStore
from temporal.codec import EncryptionCodec

_ENCODING = b"json/plain"


@dataclass(frozen=True)
class KeyRings:
    """The keys a copy is opened with: secrets, payloads and evidence."""

    envelope: Envelope
    codec: EncryptionCodec
    evidence: EvidenceKeys
    source: Literal["escrow", "live"]

    @classmethod
    def from_directory(
        cls, keys_root: Path, namespace: str, source: Literal["escrow", "live"]
    ) -> KeyRings:
        """The rings kept under ``keys_root`` (a ``<data dir>/keys``); nothing created."""
        master = KeyDirectory(keys_root / MASTER, MASTER)
        codec = KeyDirectory(keys_root / CODEC, CODEC).load(create=False)
        return cls(
            envelope=Envelope(lambda: master.load(create=False), OwnerKeys(keys_root / "owners")),
            codec=_codec(codec, namespace),
            evidence=SigningKeyRing(keys_root / "evidence"),
            source=source,
        )


def _codec(ring: AesKeyRing, namespace: str) -> EncryptionCodec:
    return EncryptionCodec(ring.keys, ring.current_id, namespace)


async def write_canary(db: Database, keys: KeyRings) -> CanaryRecord:
    """A new canary value, payload and signature in the live database (before a backup)."""
    await AppRepository(db).ensure(CANARY_APP, CANARY_OWNER)
    value = secrets.token_hex(32)
    store = SecretStore(db, keys.envelope, AuditLog(db))
    info = await store.set(Actor(user_id=CANARY_OWNER), CANARY_APP, CANARY_SECRET_NAME, value)
    value_sha256 = hashlib.sha256(value.encode()).hexdigest()
    plain = Payload(
        metadata={"encoding": _ENCODING}, data=payload_plaintext(info.version, value_sha256)
    )
    [encoded] = await keys.codec.encode([plain])
    record = CanaryRecord(
        secret_version=info.version,
        value_sha256=value_sha256,
        payload=encoded.SerializeToString(),
        evidence_key_id="",
        signature=b"",
    )
    kid, signature = keys.evidence.sign(statement(record))
    record = record.model_copy(update={"evidence_key_id": kid, "signature": signature})
    await CanaryStore(db).save(record)
    return record


async def check_usable(db: Database, keys: KeyRings) -> UsabilityCheck:
    """Open the canary (and the newest release's evidence) in a restored copy."""
    problems: list[str] = []
    canary = CanaryStore(db)
    record = await canary.load()
    secret_ok = audited = payload_ok = signature_ok = False
    if record is None:
        problems.append("the copy holds no restore canary (none was written before the backup)")
    else:
        secret_ok = await _reveal(db, keys, record, problems)
        audited = secret_ok and await canary.reveals_audited() > 0
        if secret_ok and not audited:
            problems.append("the canary reveal left no audit row in the copy")
        payload_ok = await _decode(keys, record, problems)
        signature_ok = keys.evidence.verify(
            record.evidence_key_id, statement(record), record.signature
        )
        if not signature_ok:
            problems.append(
                f"the canary's signature does not verify with evidence key {record.evidence_key_id}"
            )
    release = await _release_evidence(db, keys, canary, problems)
    return UsabilityCheck(
        keys_from=keys.source,
        canary_secret=secret_ok,
        canary_audited=audited,
        canary_payload=payload_ok,
        canary_signature=signature_ok,
        release_evidence=release,
        problems=problems,
    )


async def _reveal(db: Database, keys: KeyRings, record: CanaryRecord, problems: list[str]) -> bool:
    store = SecretStore(db, keys.envelope, AuditLog(db))
    try:
        _, value = await store.reveal(
            Actor(user_id=CANARY_OWNER), CANARY_APP, CANARY_SECRET_NAME, record.secret_version
        )
    except Exception as err:  # any failure to open is the drill's finding, not a crash
        problems.append(f"the canary secret does not open: {type(err).__name__}: {err}"[:500])
        return False
    if hashlib.sha256(value.encode()).hexdigest() != record.value_sha256:
        problems.append("the canary secret opened to a value that is not the one written")
        return False
    return True


async def _decode(keys: KeyRings, record: CanaryRecord, problems: list[str]) -> bool:
    try:
        payload = Payload.FromString(record.payload)
        [decoded] = await keys.codec.decode([payload])
    except Exception as err:
        problems.append(f"the canary payload does not decode: {type(err).__name__}: {err}"[:500])
        return False
    if decoded.data != payload_plaintext(record.secret_version, record.value_sha256):
        problems.append("the canary payload decoded to something else")
        return False
    return True


async def _release_evidence(
    db: Database, keys: KeyRings, canary: CanaryStore, problems: list[str]
) -> str | None:
    newest = await canary.newest_release()
    if newest is None:
        return None
    app_id, version = newest
    reports = QAReportRepository(db)
    row = await reports.evidence_for_release(app_id, version)
    if row is None:
        return None
    try:
        await EvidenceService(reports, ArtifactStore(db), keys.evidence).verify(row)
    except EvidenceInvalid as err:
        problems.append(f"{app_id} v{version}: {err}")
        return None
    return f"{app_id} v{version}"

"""Rewrapping the owners' data keys under another master key, and retiring unused keys.

Only the wrapping changes: each data key is unwrapped with the master key that
holds it and wrapped again with the target, in a row-locked update guarded by
the old key id, so concurrent or repeated batches never rewrap a key twice
and a crash between batches loses nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from schemas.audit import Actor, AuditAction, AuditEvent, AuditOutcome
from store.audit import AuditLog
from store.db import Database
from store.envelope import LEGACY_WRAPPED_BYTES, Envelope


@dataclass(frozen=True)
class MasterKeyUse:
    """A master key id and how many data keys it wraps."""

    key_id: str
    data_keys: int
    retired: bool


class DataKeyRewrapper:
    """Batches of the master key rotation (each one audited)."""

    def __init__(self, db: Database, envelope: Envelope, audit: AuditLog) -> None:
        self._db = db
        self._envelope = envelope
        self._audit = audit

    async def rewrap_batch(self, target: str, batch_size: int, actor: Actor) -> tuple[int, int]:
        """(rewrapped, remaining): move up to ``batch_size`` data keys under ``target``."""
        async with self._db.transaction() as conn:
            await conn.execute(
                "INSERT INTO master_keys (id) VALUES (%s) ON CONFLICT DO NOTHING", (target,)
            )
            rows = await (
                await conn.execute(
                    "SELECT owner_id, version, master_key_id, wrapped FROM data_keys"
                    " WHERE master_key_id <> %s OR (%s AND length(wrapped) = %s)"
                    " ORDER BY owner_id, version LIMIT %s FOR UPDATE SKIP LOCKED",
                    (target, self._envelope.owner_keyed, LEGACY_WRAPPED_BYTES, batch_size),
                )
            ).fetchall()
            for row in rows:
                owner, version = str(row["owner_id"]), int(row["version"])
                key = self._envelope.unwrap(
                    owner, version, str(row["master_key_id"]), bytes(row["wrapped"])
                )
                kid, wrapped = self._envelope.wrap(owner, version, key, master_key_id=target)
                await conn.execute(
                    "UPDATE data_keys SET master_key_id = %s, wrapped = %s, rewrapped_at = now()"
                    " WHERE owner_id = %s AND version = %s AND master_key_id = %s",
                    (kid, wrapped, owner, version, row["master_key_id"]),
                )
            if rows:
                await self._audit.append(
                    conn,
                    AuditEvent(
                        actor=actor,
                        action=AuditAction.KEY_ROTATE,
                        resource=f"master-key:{target}",
                        outcome=AuditOutcome.OK,
                        detail={"rewrapped": len(rows)},
                    ),
                )
            left = await (
                await conn.execute(
                    "SELECT count(*) AS n FROM data_keys"
                    " WHERE master_key_id <> %s OR (%s AND length(wrapped) = %s)",
                    (target, self._envelope.owner_keyed, LEGACY_WRAPPED_BYTES),
                )
            ).fetchone()
        return len(rows), int(left["n"]) if left else 0

    async def retire_unused(self, keep: str, actor: Actor) -> list[str]:
        """Mark every master key but ``keep`` that wraps no data key as retired."""
        async with self._db.transaction() as conn:
            rows = await (
                await conn.execute(
                    "UPDATE master_keys m SET retired_at = now()"
                    " WHERE m.id <> %s AND m.retired_at IS NULL"
                    " AND NOT EXISTS (SELECT 1 FROM data_keys d WHERE d.master_key_id = m.id)"
                    " RETURNING m.id",
                    (keep,),
                )
            ).fetchall()
            retired = sorted(str(r["id"]) for r in rows)
            for kid in retired:
                await self._audit.append(
                    conn,
                    AuditEvent(
                        actor=actor,
                        action=AuditAction.KEY_RETIRE,
                        resource=f"master-key:{kid}",
                        outcome=AuditOutcome.OK,
                        detail={"replaced_by": keep},
                    ),
                )
        return retired

    async def usage(self) -> list[MasterKeyUse]:
        """Every master key the database knows, with its data key count."""
        async with self._db.connection() as conn:
            rows = await (
                await conn.execute(
                    "SELECT m.id, m.retired_at IS NOT NULL AS retired, count(d.owner_id) AS n"
                    " FROM master_keys m LEFT JOIN data_keys d ON d.master_key_id = m.id"
                    " GROUP BY m.id, m.retired_at ORDER BY m.added_at, m.id"
                )
            ).fetchall()
        return [MasterKeyUse(str(r["id"]), int(r["n"]), bool(r["retired"])) for r in rows]

"""Operators' per-app QA floors: the minimum a deployment of that app may ask for.

Without an override an app's floor is the platform's policy (``Settings.qa_policy``).
Setting or clearing one is audited in the same transaction: if the audit row
cannot be written, nothing changes.
"""

from __future__ import annotations

from datetime import datetime

from psycopg.types.json import Jsonb
from pydantic import BaseModel

from schemas.audit import Actor, AuditAction, AuditEvent, AuditOutcome
from schemas.qa import QAPolicy
from store.audit import AuditLog
from store.db import Database


class QAPolicyOverride(BaseModel):
    """An app's QA floor, set by an operator."""

    app_id: str
    policy: QAPolicy
    reason: str
    set_by: str
    set_at: datetime


class QAPolicyOverrides:
    """Read, set and clear per-app QA floors (writes audited, fail closed)."""

    def __init__(self, db: Database, audit: AuditLog) -> None:
        self._db = db
        self._audit = audit

    async def get(self, app_id: str) -> QAPolicyOverride | None:
        """The app's override, if an operator set one."""
        async with self._db.connection() as conn:
            row = await (
                await conn.execute(
                    "SELECT app_id, policy, reason, set_by, set_at FROM qa_policy_overrides"
                    " WHERE app_id = %s",
                    (app_id,),
                )
            ).fetchone()
        return None if row is None else QAPolicyOverride.model_validate(row)

    async def floor(self, app_id: str | None, platform: QAPolicy) -> QAPolicy:
        """The least a deployment of ``app_id`` may ask for (the platform's without one)."""
        override = None if app_id is None else await self.get(app_id)
        return platform if override is None else override.policy

    async def refusal(self, app_id: str, requested: QAPolicy, platform: QAPolicy) -> str | None:
        """Why a deployment of ``app_id`` may not ask for ``requested``; None if it may."""
        weaker = requested.weaker_than(await self.floor(app_id, platform))
        if not weaker:
            return None
        return (
            f"qa: {'; '.join(weaker)} (a deployment may make the QA gate stricter, never"
            " weaker; an operator can lower an app's minimum)"
        )

    async def set(
        self, app_id: str, policy: QAPolicy, *, reason: str, actor: Actor, platform: QAPolicy
    ) -> QAPolicyOverride:
        """Set the app's floor (replacing any), audited with what it lowers."""
        async with self._db.transaction() as conn:
            await self._audit.append(
                conn,
                AuditEvent(
                    actor=actor,
                    action=AuditAction.QA_OVERRIDE_SET,
                    resource=f"app:{app_id}",
                    outcome=AuditOutcome.OK,
                    detail={
                        "reason": reason,
                        "policy": policy.model_dump_json(),  # floats never enter audit details
                        "below_platform": policy.weaker_than(platform),
                    },
                ),
            )
            row = await (
                await conn.execute(
                    "INSERT INTO qa_policy_overrides (app_id, policy, reason, set_by)"
                    " VALUES (%s, %s, %s, %s) ON CONFLICT (app_id) DO UPDATE SET"
                    " policy = EXCLUDED.policy, reason = EXCLUDED.reason,"
                    " set_by = EXCLUDED.set_by, set_at = now()"
                    " RETURNING app_id, policy, reason, set_by, set_at",
                    (app_id, Jsonb(policy.model_dump(mode="json")), reason, actor.user_id),
                )
            ).fetchone()
        assert row is not None
        return QAPolicyOverride.model_validate(row)

    async def clear(self, app_id: str, *, reason: str, actor: Actor) -> bool:
        """Remove the app's floor (back to the platform's); False if there was none."""
        async with self._db.transaction() as conn:
            cur = await conn.execute("DELETE FROM qa_policy_overrides WHERE app_id = %s", (app_id,))
            if cur.rowcount == 0:
                return False
            await self._audit.append(
                conn,
                AuditEvent(
                    actor=actor,
                    action=AuditAction.QA_OVERRIDE_CLEAR,
                    resource=f"app:{app_id}",
                    outcome=AuditOutcome.OK,
                    detail={"reason": reason},
                ),
            )
        return True

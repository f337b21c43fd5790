"""The moderation log: every blocked or flagged prompt, with its verdict."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime

from pydantic import BaseModel

from schemas.moderation import ModerationResult
from store.db import Database
from store.storable_text import storable


class ModerationLogEntry(BaseModel):
    """One logged verdict."""

    id: int
    created_at: datetime
    deployment_id: str
    owner_id: str
    app_id: str
    prompt: str
    prompt_sha256: str
    verdict: str
    categories: dict[str, float]
    reason: str
    backend: str


class ModerationLog:
    """Append verdicts (idempotent per deployment) and read them back."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def record(
        self,
        *,
        deployment_id: str,
        owner_id: str,
        app_id: str,
        prompt: str,
        result: ModerationResult,
    ) -> bool:
        """Log a verdict once per deployment (activity retries do not duplicate it);
        returns whether this call logged it. Text a user wrote is made storable first
        (NUL and lone surrogates become U+FFFD): nothing in it can make the insert fail."""
        categories = {c.category.value: c.score for c in result.categories}
        prompt = storable(prompt)
        async with self._db.connection() as conn:
            cur = await conn.execute(
                "INSERT INTO moderation_log (deployment_id, owner_id, app_id, prompt,"
                " prompt_sha256, verdict, categories, reason, backend)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)"
                " ON CONFLICT (deployment_id) DO NOTHING",
                (
                    storable(deployment_id),
                    storable(owner_id),
                    storable(app_id),
                    prompt,
                    hashlib.sha256(prompt.encode()).hexdigest(),
                    result.verdict,
                    json.dumps(categories),
                    storable(result.reason),
                    result.backend,
                ),
            )
        return cur.rowcount == 1

    async def recent(self, limit: int = 50) -> list[ModerationLogEntry]:
        """The newest entries first."""
        async with self._db.connection() as conn:
            rows = await (
                await conn.execute(
                    "SELECT * FROM moderation_log ORDER BY id DESC LIMIT %s", (limit,)
                )
            ).fetchall()
        return [ModerationLogEntry.model_validate(r) for r in rows]

    async def flagged_since(self, since: datetime, limit: int = 100) -> list[ModerationLogEntry]:
        """Flagged prompts logged after ``since``, oldest first (the review queue's candidates)."""
        async with self._db.connection() as conn:
            rows = await (
                await conn.execute(
                    "SELECT * FROM moderation_log WHERE verdict = 'flag' AND created_at > %s"
                    " ORDER BY id LIMIT %s",
                    (since, limit),
                )
            ).fetchall()
        return [ModerationLogEntry.model_validate(r) for r in rows]

    async def search(
        self,
        *,
        verdict: str | None = None,
        owner_id: str | None = None,
        text: str | None = None,
        since: datetime | None = None,
        limit: int = 100,
    ) -> list[ModerationLogEntry]:
        """Entries matching every filter, newest first (``text``: in the prompt or reason,
        case-insensitive, taken literally)."""
        where: list[str] = ["true"]
        args: list[object] = []
        if verdict is not None:
            where.append("verdict = %s")
            args.append(verdict)
        if owner_id is not None:
            where.append("owner_id = %s")
            args.append(owner_id)
        if text:
            pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            where.append("(prompt ILIKE %s OR reason ILIKE %s)")
            args += [pattern, pattern]
        if since is not None:
            where.append("created_at >= %s")
            args.append(since)
        query = (
            "SELECT * FROM moderation_log WHERE "  # noqa: S608 - fixed clauses, bound values
            + " AND ".join(where)
            + " ORDER BY id DESC LIMIT %s"
        )
        async with self._db.connection() as conn:
            rows = await (await conn.execute(query, (*args, limit))).fetchall()
        return [ModerationLogEntry.model_validate(r) for r in rows]

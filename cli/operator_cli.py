"""Operators' commands: ``mb moderation list``, ``mb review list``, ``mb incidents``,
``mb alerts``, ``mb users reinstate``, ``mb privacy export`` and ``mb privacy erase``
(reading users' prompts or data, and erasing them, is audited, as through the API)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

from temporalio.exceptions import WorkflowAlreadyStartedError

from cli.commands import CommandError, database, temporal
from pipeline.privacy import start_erasure
from pipeline.review_queue import awaiting_review
from schemas.anomalies import Alert
from schemas.audit import Actor, AuditAction, AuditEvent, AuditOutcome
from schemas.moderation import ReviewItem
from schemas.privacy import ErasureProgress, ErasureResult, ExportInput, ExportResult
from schemas.settings import Settings
from store.anomalies import AlertLog
from store.artifacts import ArtifactStore
from store.audit import AuditLog
from store.incidents import Incident, IncidentLog
from store.moderation_log import ModerationLog, ModerationLogEntry
from store.users import UserRepository
from temporal import names


async def search_moderation(
    settings: Settings,
    *,
    operator: str,
    verdict: str | None,
    owner: str | None,
    text: str | None,
    since: datetime | None,
    limit: int,
) -> list[ModerationLogEntry]:
    """Matching entries, newest first; the read is audited under ``operator``."""
    async with database(settings) as db:
        found = await ModerationLog(db).search(
            verdict=verdict, owner_id=owner, text=text, since=since, limit=limit
        )
        await AuditLog(db).record(
            AuditEvent(
                actor=Actor(user_id=operator),
                action=AuditAction.MODERATION_READ,
                resource="moderation_log",
                outcome=AuditOutcome.OK,
                detail={"verdict": verdict, "owner": owner, "q": text, "rows": len(found)},
            )
        )
    return found


async def review_queue(settings: Settings) -> list[ReviewItem]:
    """Flagged deployments waiting for a decision, oldest first."""
    client = await temporal(settings)
    async with database(settings) as db:
        return await awaiting_review(
            client, ModerationLog(db), window=timedelta(seconds=settings.review_timeout_s)
        )


async def incidents(settings: Settings, *, app_id: str | None, limit: int) -> list[Incident]:
    """Rollbacks and other incidents, newest first."""
    async with database(settings) as db:
        return await IncidentLog(db).search(app_id=app_id, limit=limit)


async def alerts(settings: Settings, *, rule: str | None, limit: int) -> list[Alert]:
    """Anomaly alerts, newest first."""
    async with database(settings) as db:
        return await AlertLog(db).search(rule=rule, limit=limit)


async def reinstate(settings: Settings, user_id: str, *, operator: str, reason: str) -> bool:
    """Lift a suspension (audited); False if the user was not suspended."""
    async with database(settings) as db:
        if not await UserRepository(db).reinstate(user_id):
            return False
        await AuditLog(db).record(
            AuditEvent(
                actor=Actor(user_id=operator),
                action=AuditAction.USER_REINSTATE,
                resource=f"user:{user_id}",
                outcome=AuditOutcome.OK,
                detail={"reason": reason},
            )
        )
    return True


async def export_user(settings: Settings, user_id: str, *, operator: str, out: Path) -> int:
    """Run PrivacyExportWorkflow for ``user_id`` (audited under ``operator``) and write
    the archive to ``out``; returns its size."""
    client = await temporal(settings)
    export_id = uuid.uuid4().hex[:24]
    async with database(settings) as db:
        if await UserRepository(db).get(user_id) is None:
            raise CommandError(f"user {user_id} not found")
        await AuditLog(db).record(
            AuditEvent(
                actor=Actor(user_id=operator),
                action=AuditAction.PRIVACY_EXPORT,
                resource=f"user:{user_id}",
                outcome=AuditOutcome.OK,
                detail={"export_id": export_id},
            )
        )
        try:
            result: ExportResult = await client.execute_workflow(
                names.PRIVACY_EXPORT_WORKFLOW_TYPE,
                ExportInput(user_id=user_id, export_id=export_id, requested_by=operator),
                id=names.privacy_export_workflow_id(user_id),
                task_queue=names.PIPELINE_TASK_QUEUE,
                result_type=ExportResult,
                memo={"export_id": export_id},
            )
        except WorkflowAlreadyStartedError:
            raise CommandError(
                f"an export of {user_id} is being built right now; retry in a minute"
            ) from None
        data = await ArtifactStore(db).get(result.sha256)
    out.write_bytes(data)
    return len(data)


async def erase_user(
    settings: Settings,
    user_id: str,
    *,
    operator: str,
    reason: str,
    on_progress: Callable[[ErasureProgress], None],
) -> ErasureResult:
    """Run PrivacyErasureWorkflow for ``user_id`` (or join the running one) and wait,
    reporting each step; the request is audited under ``operator`` by its first step."""
    client = await temporal(settings)
    async with database(settings) as db:
        if await UserRepository(db).get(user_id) is None:
            raise CommandError(f"user {user_id} not found")
    handle = await start_erasure(client, user_id, requested_by=operator, reason=reason)
    result = asyncio.ensure_future(handle.result())
    seen: ErasureProgress | None = None
    while not result.done():
        progress = await handle.query("progress", result_type=ErasureProgress)
        if progress != seen:
            on_progress(progress)
            seen = progress
        await asyncio.wait([result], timeout=0.5)
    return await result

"""The operators' review queue (deployments whose prompt moderation flagged) and the
moderation log. Every decision, and every read of users' prompts, is audited."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query

from api.deps import AppId, CurrentOperator, ServicesDep, current_operator
from api.routes.deployments import ERRORS
from pipeline.operations import PipelineRequestError, submit_review
from pipeline.review_queue import awaiting_review
from schemas.api import ReviewCreate
from schemas.audit import AuditAction, AuditEvent, AuditOutcome
from schemas.deployment import REQUEST_ID_PATTERN, ReviewDecision
from schemas.moderation import ReviewItem
from store.moderation_log import ModerationLog, ModerationLogEntry
from temporal import names

router = APIRouter(prefix="/v1/review", tags=["review"])


@router.get(
    "",
    response_model=list[ReviewItem],
    responses=ERRORS,
    dependencies=[Depends(current_operator)],
)
async def review_queue(services: ServicesDep) -> list[ReviewItem]:
    """Flagged deployments awaiting a decision, oldest first."""
    window = timedelta(seconds=services.settings.review_timeout_s)
    return await awaiting_review(services.temporal, ModerationLog(services.db), window=window)


@router.post("/{app_id}/{deployment_id}", status_code=202, responses=ERRORS)
async def decide(
    app_id: AppId,
    deployment_id: Annotated[str, Path(pattern=REQUEST_ID_PATTERN)],
    body: ReviewCreate,
    operator: CurrentOperator,
    services: ServicesDep,
) -> dict[str, str]:
    """Approve or reject a flagged deployment (409 if it is not awaiting review)."""
    workflow_id = names.deployment_workflow_id(app_id, deployment_id)
    decision = ReviewDecision(decision=body.decision, reviewer=operator.user_id, reason=body.reason)
    try:
        await submit_review(services.temporal, workflow_id, decision)
    except PipelineRequestError as err:
        if err.status == 404:
            raise HTTPException(404, f"deployment {deployment_id!r} not found") from None
        raise
    await services.audit.record(
        AuditEvent(
            actor=operator,
            action=AuditAction.REVIEW_DECIDE,
            resource=f"deployment:{app_id}/{deployment_id}",
            outcome=AuditOutcome.OK,
            detail={"decision": body.decision, "reason": body.reason},
        )
    )
    return {"app_id": app_id, "deployment_id": deployment_id, "decision": body.decision}


moderation_router = APIRouter(prefix="/v1/moderation", tags=["review"])


@moderation_router.get("", response_model=list[ModerationLogEntry], responses=ERRORS)
async def search_moderation_log(
    operator: CurrentOperator,
    services: ServicesDep,
    verdict: Literal["block", "flag"] | None = None,
    owner: Annotated[str | None, Query(max_length=200)] = None,
    q: Annotated[str | None, Query(max_length=200, description="text in prompt or reason")] = None,
    since: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[ModerationLogEntry]:
    """Blocked and flagged prompts, newest first (the read is audited: prompts are user data)."""
    found = await ModerationLog(services.db).search(
        verdict=verdict, owner_id=owner, text=q, since=since, limit=limit
    )
    await services.audit.record(
        AuditEvent(
            actor=operator,
            action=AuditAction.MODERATION_READ,
            resource="moderation_log",
            outcome=AuditOutcome.OK,
            detail={"verdict": verdict, "owner": owner, "q": q, "rows": len(found)},
        )
    )
    return found

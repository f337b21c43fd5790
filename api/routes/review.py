"""The operators' review queue: deployments whose prompt moderation flagged.

Candidates come from the moderation log (flagged within the review window);
each is confirmed against its DeploymentWorkflow, so the queue shows only
deployments still waiting. Every decision is audited with the reviewer and reason.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path

from api.deps import AppId, CurrentOperator, ServicesDep, current_operator
from api.routes.deployments import ERRORS
from schemas.api import ReviewCreate, ReviewItem
from schemas.audit import AuditAction, AuditEvent, AuditOutcome
from schemas.deployment import REQUEST_ID_PATTERN, ReviewDecision, Stage
from store.moderation_log import ModerationLog
from store.sessions import utc_now
from temporal import names
from temporal.pipeline_client import PipelineRequestError, deployment_status, submit_review

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
    candidates = await ModerationLog(services.db).flagged_since(utc_now() - window)
    queue = []
    for entry in candidates:
        workflow_id = names.deployment_workflow_id(entry.app_id, entry.deployment_id)
        try:
            status = await deployment_status(services.temporal, workflow_id)
        except PipelineRequestError:
            continue
        if status.awaiting_review and status.stage is Stage.AWAITING_REVIEW:
            queue.append(
                ReviewItem(
                    app_id=entry.app_id,
                    deployment_id=entry.deployment_id,
                    owner_id=entry.owner_id,
                    flagged_at=entry.created_at,
                    reason=entry.reason,
                    categories=entry.categories,
                    prompt=entry.prompt,
                )
            )
    return queue


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

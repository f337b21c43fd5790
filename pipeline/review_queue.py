"""The review queue: flagged deployments still waiting for an operator's decision, and
declared egress waiting for an operator's approval.

Flagged candidates come from the moderation log (flagged within the review window);
each is confirmed against its DeploymentWorkflow, so only deployments that are
really waiting are listed (one reviewed, timed out or cancelled drops out).
Egress targets wait in the store until decided (they block no deployment: the
app runs, and its requests to them are refused and audited until approved).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from temporalio.client import Client

from pipeline.operations import PipelineRequestError, deployment_status
from schemas.deployment import Stage
from schemas.moderation import ReviewItem
from store.egress import EgressApprovals, EgressRequest
from store.moderation_log import ModerationLog
from temporal import names


async def awaiting_review(
    client: Client, log: ModerationLog, *, window: timedelta
) -> list[ReviewItem]:
    """Flagged deployments awaiting a decision, oldest first."""
    queue = []
    for entry in await log.flagged_since(datetime.now(UTC) - window):
        workflow_id = names.deployment_workflow_id(entry.app_id, entry.deployment_id)
        try:
            status = await deployment_status(client, workflow_id)
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


async def awaiting_egress_approval(approvals: EgressApprovals) -> list[EgressRequest]:
    """Declared ``host:port`` targets no operator decided yet, oldest first."""
    return await approvals.pending()

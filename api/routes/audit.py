"""The audit log for operators: search it and verify its hash chain (both audited)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from api.deps import CurrentOperator, ServicesDep, current_operator
from api.routes.deployments import ERRORS
from schemas.audit import AuditAction, AuditEvent, AuditOutcome, AuditRecord, AuditVerification

router = APIRouter(prefix="/v1/audit", tags=["audit"])


@router.get("", response_model=list[AuditRecord], responses=ERRORS)
async def search_audit(
    operator: CurrentOperator,
    services: ServicesDep,
    actor: Annotated[str | None, Query(max_length=200)] = None,
    action: AuditAction | None = None,
    resource: Annotated[str | None, Query(max_length=500, description="prefix")] = None,
    outcome: AuditOutcome | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    after_seq: Annotated[int | None, Query(ge=0)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[AuditRecord]:
    """Rows matching every filter, newest first (``after_seq``: oldest first, to follow)."""
    await services.audit.record(
        AuditEvent(
            actor=operator,
            action=AuditAction.AUDIT_READ,
            resource="audit",
            outcome=AuditOutcome.OK,
            detail={"actor": actor, "action": action, "resource": resource},
        )
    )
    return await services.audit.search(
        actor=actor,
        action=action,
        resource_prefix=resource,
        outcome=outcome,
        since=since,
        until=until,
        after_seq=after_seq,
        limit=limit,
        newest_first=after_seq is None,
    )


@router.get(
    "/verify",
    response_model=AuditVerification,
    responses=ERRORS,
    dependencies=[Depends(current_operator)],
)
async def verify_audit(services: ServicesDep) -> AuditVerification:
    """Walk the whole chain; names the first row that was altered, deleted or reordered."""
    return await services.audit.verify()

"""For operators: incidents (every rollback, by hand or automatic), anomaly alerts, and
reinstating a user the blocked-prompt rule suspended."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Query
from pydantic import BaseModel, ConfigDict, Field, field_validator

from api.deps import AppId, CurrentOperator, ServicesDep, current_operator
from api.routes.deployments import ERRORS
from schemas.anomalies import Alert, Rule
from schemas.audit import AuditAction, AuditEvent, AuditOutcome
from schemas.text import refuse_control_characters
from store.anomalies import AlertLog
from store.incidents import Incident, IncidentLog


class ReinstateBody(BaseModel):
    """``POST /v1/users/{user_id}/reinstate``."""

    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=1000, description="why (audited)")

    @field_validator("reason")
    @classmethod
    def _plain_reason(cls, value: str) -> str:
        return refuse_control_characters(value, "reason")


router = APIRouter(prefix="/v1/incidents", tags=["review"])


@router.get(
    "",
    response_model=list[Incident],
    responses=ERRORS,
    dependencies=[Depends(current_operator)],
)
async def list_incidents(
    services: ServicesDep,
    app: Annotated[AppId | None, Query()] = None,
    since: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[Incident]:
    """What happened, when, why and who: one row per rollback."""
    return await IncidentLog(services.db).search(app_id=app, since=since, limit=limit)


alerts_router = APIRouter(prefix="/v1", tags=["review"])


@alerts_router.get(
    "/alerts",
    response_model=list[Alert],
    responses=ERRORS,
    dependencies=[Depends(current_operator)],
)
async def list_alerts(
    services: ServicesDep,
    rule: Rule | None = None,
    since: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[Alert]:
    """Alerts raised by the anomaly rules, newest first."""
    return await AlertLog(services.db).search(rule=rule, since=since, limit=limit)


@alerts_router.post("/users/{user_id}/reinstate", responses=ERRORS)
async def reinstate_user(
    user_id: Annotated[str, Path(min_length=1, max_length=200, pattern=r"^[\w.@-]+$")],
    body: ReinstateBody,
    operator: CurrentOperator,
    services: ServicesDep,
) -> dict[str, str]:
    """Let a suspended user deploy again (audited with the operator and the reason)."""
    user = await services.users.get(user_id)
    if user is None:
        raise HTTPException(404, f"user {user_id!r} not found")
    if not await services.users.reinstate(user_id):
        raise HTTPException(409, f"user {user_id!r} is not suspended")
    await services.audit.record(
        AuditEvent(
            actor=operator,
            action=AuditAction.USER_REINSTATE,
            resource=f"user:{user_id}",
            outcome=AuditOutcome.OK,
            detail={"reason": body.reason},
        )
    )
    return {"user_id": user_id, "status": "reinstated"}

"""Egress: operators decide which declared hosts an app may reach and read the proxies'
refusals; an owner sees the app's egress per host.

A release's declared ``host:port`` targets that the platform allow-list does not
cover wait in the egress review queue until an operator approves or rejects
them, once per app (decisions are audited). Runtime hosts pick decisions up
within ``MB_RECONCILE_EVERY_S``; the next start of any instance uses them at once.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Query
from pydantic import BaseModel, ConfigDict, Field, field_validator

from api.deps import AppId, CurrentOperator, OwnedApp, ServicesDep, current_operator
from api.routes.deployments import ERRORS
from pipeline.review_queue import awaiting_egress_approval
from schemas.egress import EgressTarget
from schemas.text import refuse_control_characters
from store.egress import (
    EgressApprovals,
    EgressHostUse,
    EgressRecords,
    EgressRefusalRow,
    EgressRequest,
)

router = APIRouter(prefix="/v1/egress", tags=["review"])
apps_router = APIRouter(prefix="/v1/apps", tags=["apps"])


class EgressDecisionCreate(BaseModel):
    """``POST /v1/egress/review/{app_id}``: an operator's decision on one target."""

    model_config = ConfigDict(extra="forbid")

    target: str = Field(max_length=300, description="host:port as the app declared it")
    decision: Literal["approve", "reject"]
    reason: str = Field(min_length=1, max_length=1000, description="why (audited)")

    @field_validator("reason")
    @classmethod
    def _plain_reason(cls, value: str) -> str:
        return refuse_control_characters(value, "reason")

    @field_validator("target")
    @classmethod
    def _a_target(cls, value: str) -> str:
        return str(EgressTarget.parse(value))


class EgressDecisionView(BaseModel):
    """What was decided."""

    app_id: str
    target: str
    decision: Literal["approve", "reject"]


@router.get(
    "/review",
    response_model=list[EgressRequest],
    responses=ERRORS,
    dependencies=[Depends(current_operator)],
)
async def egress_review_queue(services: ServicesDep) -> list[EgressRequest]:
    """Declared targets awaiting an operator's decision, oldest first."""
    return await awaiting_egress_approval(EgressApprovals(services.db, services.audit))


@router.post("/review/{app_id}", response_model=EgressDecisionView, responses=ERRORS)
async def decide_egress(
    app_id: AppId, body: EgressDecisionCreate, operator: CurrentOperator, services: ServicesDep
) -> EgressDecisionView:
    """Approve or reject one target for the app (audited; replaces an earlier decision)."""
    if await services.apps.owner(app_id) is None:
        raise HTTPException(404, f"app {app_id!r} not found")
    await EgressApprovals(services.db, services.audit).decide(
        app_id, body.target, body.decision, reason=body.reason, actor=operator
    )
    return EgressDecisionView(app_id=app_id, target=body.target, decision=body.decision)


@router.get(
    "/refusals",
    response_model=list[EgressRefusalRow],
    responses=ERRORS,
    dependencies=[Depends(current_operator)],
)
async def egress_refusals(
    services: ServicesDep,
    app_id: Annotated[str | None, Query(max_length=80)] = None,
    since: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[EgressRefusalRow]:
    """The proxies' refusals (app, host, port, reason), newest first."""
    return await EgressRecords(services.db).refusals(since=since, app_id=app_id, limit=limit)


@apps_router.get("/{app_id}/egress", response_model=list[EgressHostUse], responses=ERRORS)
async def app_egress(app_id: OwnedApp, services: ServicesDep) -> list[EgressHostUse]:
    """The app's egress per host:port: connections, bytes each way, refusals."""
    return await EgressRecords(services.db).per_host(app_id)

"""Incidents for operators: every rollback (by hand or automatic), newest first."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from api.deps import AppId, ServicesDep, current_operator
from api.routes.deployments import ERRORS
from store.incidents import Incident, IncidentLog

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

"""Apps: list mine, read one's status and releases."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, HTTPException, status

from api.deps import CurrentActor, CurrentUser, OwnedApp, OwnedAppStatus, ServicesDep
from api.model_response import ModelResponse
from api.routes.deployments import ERRORS
from pipeline.operations import app_releases, request_retire
from schemas.api import AppCreate, AppDeleted, AppView
from schemas.deployment import DeploymentSummary, ReleaseRecord, RetireRequest
from store.apps import AppOwnedByAnother

router = APIRouter(prefix="/v1/apps", tags=["apps"])


@router.get("", response_model=list[str], responses=ERRORS)
async def list_apps(user: CurrentUser, services: ServicesDep) -> list[str]:
    """The ids of the caller's apps."""
    return await services.apps.list_for(user)


@router.post("", status_code=status.HTTP_201_CREATED, response_model=AppView, responses=ERRORS)
async def create_app_id(body: AppCreate, user: CurrentUser, services: ServicesDep) -> AppView:
    """Reserve an app id for the caller (409 if it is taken)."""
    if await services.apps.taken(body.app_id):
        raise HTTPException(409, f"app id {body.app_id!r} is taken")
    try:
        await services.apps.ensure(body.app_id, user)
    except AppOwnedByAnother:  # lost a race for the same id
        raise HTTPException(409, f"app id {body.app_id!r} is taken") from None
    return AppView(
        app_url=f"{services.settings.apps_base_url}/apps/{body.app_id}/",
        status=await services.app_status(body.app_id),
    )


@router.get("/{app_id}/deployments", response_model=list[DeploymentSummary], responses=ERRORS)
async def list_deployments(app_id: OwnedApp, services: ServicesDep) -> list[DeploymentSummary]:
    """The app's recent deployments, as its workflow remembers them."""
    return (await services.app_status(app_id)).deployments


@router.get("/{app_id}", response_model=AppView, responses=ERRORS)
async def get_app(owned: OwnedAppStatus, services: ServicesDep) -> ModelResponse:
    """The live release, the running deployment and recent history."""
    app_id, stored = owned
    return ModelResponse(
        AppView(
            app_url=f"{services.settings.apps_base_url}/apps/{app_id}/",
            status=stored if stored is not None else await services.live_app_status(app_id),
        )
    )


@router.delete(
    "/{app_id}", status_code=status.HTTP_202_ACCEPTED, response_model=AppDeleted, responses=ERRORS
)
async def delete_app(app_id: OwnedApp, actor: CurrentActor, services: ServicesDep) -> AppDeleted:
    """Take the app offline for good and destroy its secrets; its id is not reused."""
    request = RetireRequest(
        request_id=uuid.uuid4().hex, requested_by=actor.user_id, reason="deleted through the API"
    )
    # The workflow first: if Temporal is down this fails (503) and nothing changed.
    stopping = await request_retire(services.temporal, app_id, request)
    if not await services.apps.delete(app_id, actor, services.audit):
        raise HTTPException(404, f"app {app_id!r} not found")
    return AppDeleted(app_id=app_id, stopping=stopping)


@router.get("/{app_id}/releases", response_model=list[ReleaseRecord], responses=ERRORS)
async def get_releases(app_id: OwnedApp, services: ServicesDep) -> list[ReleaseRecord]:
    """The app's releases, oldest first."""
    return await app_releases(services.temporal, app_id)

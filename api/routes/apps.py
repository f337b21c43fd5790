"""Apps: list mine, read one's status and releases."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, status

from api.deps import CurrentUser, OwnedApp, ServicesDep
from api.routes.deployments import ERRORS
from schemas.api import AppCreate, AppView
from schemas.deployment import DeploymentSummary, ReleaseRecord
from store.apps import AppOwnedByAnother
from temporal.pipeline_client import app_releases

router = APIRouter(prefix="/v1/apps", tags=["apps"])


@router.get("", response_model=list[str], responses=ERRORS)
async def list_apps(user: CurrentUser, services: ServicesDep) -> list[str]:
    """The ids of the caller's apps."""
    return await services.apps.list_for(user)


@router.post("", status_code=status.HTTP_201_CREATED, response_model=AppView, responses=ERRORS)
async def create_app_id(body: AppCreate, user: CurrentUser, services: ServicesDep) -> AppView:
    """Reserve an app id for the caller (409 if it is taken)."""
    if await services.apps.owner(body.app_id) is not None:
        raise HTTPException(409, f"app id {body.app_id!r} is taken")
    try:
        await services.apps.ensure(body.app_id, user)
    except AppOwnedByAnother:  # lost a race for the same id
        raise HTTPException(409, f"app id {body.app_id!r} is taken") from None
    return AppView(
        app_url=f"{services.settings.api_base_url}/apps/{body.app_id}/",
        status=await services.app_status(body.app_id),
    )


@router.get("/{app_id}/deployments", response_model=list[DeploymentSummary], responses=ERRORS)
async def list_deployments(app_id: OwnedApp, services: ServicesDep) -> list[DeploymentSummary]:
    """The app's recent deployments, as its workflow remembers them."""
    return (await services.app_status(app_id)).deployments


@router.get("/{app_id}", response_model=AppView, responses=ERRORS)
async def get_app(app_id: OwnedApp, services: ServicesDep) -> AppView:
    """The live release, the running deployment and recent history."""
    return AppView(
        app_url=f"{services.settings.api_base_url}/apps/{app_id}/",
        status=await services.app_status(app_id),
    )


@router.get("/{app_id}/releases", response_model=list[ReleaseRecord], responses=ERRORS)
async def get_releases(app_id: OwnedApp, services: ServicesDep) -> list[ReleaseRecord]:
    """The app's releases, oldest first."""
    return await app_releases(services.temporal, app_id)

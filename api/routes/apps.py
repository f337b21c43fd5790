"""Apps: list mine, read one's status and releases."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import CurrentUser, OwnedApp, ServicesDep
from api.routes.deployments import ERRORS
from schemas.api import AppView
from schemas.deployment import ReleaseRecord
from temporal.pipeline_client import app_releases

router = APIRouter(prefix="/v1/apps", tags=["apps"])


@router.get("", response_model=list[str], responses=ERRORS)
async def list_apps(user: CurrentUser, services: ServicesDep) -> list[str]:
    """The ids of the caller's apps."""
    return await services.apps.list_for(user)


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

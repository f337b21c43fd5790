"""Secrets of an app: set, list (names and versions), reveal (owner only), delete.

Ownership is checked by the store inside the audited transaction, so another
user's app answers 404 exactly like a missing one and the attempt is audited.
Values appear only in the owner's explicit reveal, with ``Cache-Control: no-store``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Path, Response

from api.deps import AppId, CurrentActor, ServicesDep
from api.routes.deployments import ERRORS
from pipeline.operations import refresh_if_declared
from schemas.secrets import SECRET_NAME, SecretInfo, SecretValue, SetSecretBody

router = APIRouter(prefix="/v1/apps", tags=["secrets"])
SecretName = Annotated[
    str, Path(pattern=f"^{SECRET_NAME.pattern}$", description="[A-Z_][A-Z0-9_]{0,63}")
]
NO_STORE = {"Cache-Control": "no-store"}


@router.get("/{app_id}/secrets", response_model=list[SecretInfo], responses=ERRORS)
async def list_secrets(
    app_id: AppId, actor: CurrentActor, services: ServicesDep
) -> list[SecretInfo]:
    """Names, versions and sizes of the app's secrets; never their values."""
    return await services.secrets.names(actor, app_id)


@router.put("/{app_id}/secrets/{name}", response_model=SecretInfo, responses=ERRORS)
async def set_secret(
    app_id: AppId,
    name: SecretName,
    body: SetSecretBody,
    actor: CurrentActor,
    services: ServicesDep,
    response: Response,
    background: BackgroundTasks,
) -> SecretInfo:
    """Store a new version (the value is never echoed back); a live release that
    declares the secret is rolled onto a new instance with the new value."""
    info = await services.secrets.set(actor, app_id, name, body.value)
    background.add_task(
        services.notices.secret_event, actor.user_id, app_id, name, "changed", actor.client_ip
    )
    refresh = await refresh_if_declared(
        services.temporal, services.bundles, app_id, [name], actor.user_id
    )
    response.headers["X-MB-Refresh"] = refresh or "none"
    return info


@router.post("/{app_id}/secrets/{name}/reveal", response_model=SecretValue, responses=ERRORS)
async def reveal_secret(
    app_id: AppId,
    name: SecretName,
    actor: CurrentActor,
    services: ServicesDep,
    response: Response,
    background: BackgroundTasks,
    version: int | None = None,
) -> SecretValue:
    """The value of the latest (or given) version: the owner's explicit, audited read."""
    found, value = await services.secrets.reveal(actor, app_id, name, version)
    background.add_task(
        services.notices.secret_event, actor.user_id, app_id, name, "revealed", actor.client_ip
    )
    response.headers.update(NO_STORE)
    return SecretValue(name=name, version=found, value=value)


@router.delete("/{app_id}/secrets/{name}", status_code=204, responses=ERRORS)
async def delete_secret(
    app_id: AppId,
    name: SecretName,
    actor: CurrentActor,
    services: ServicesDep,
    background: BackgroundTasks,
) -> Response:
    """Destroy every version of the secret."""
    await services.secrets.delete(actor, app_id, name)
    background.add_task(
        services.notices.secret_event, actor.user_id, app_id, name, "deleted", actor.client_ip
    )
    refresh = await refresh_if_declared(
        services.temporal, services.bundles, app_id, [name], actor.user_id
    )
    return Response(
        status_code=204, headers={"X-MB-Refresh": refresh or "none"}, background=background
    )

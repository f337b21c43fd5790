"""FastAPI dependencies: services, the authenticated user, owned apps."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Path, Request

from api.services import Services
from schemas.audit import Actor
from schemas.deployment import APP_ID_PATTERN


def get_services(request: Request) -> Services:
    """The process-wide services, attached to the app at start-up."""
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


async def current_user(request: Request, services: ServicesDep) -> str:
    """The user id of a valid ``Authorization: Bearer <token>``; 401 otherwise."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise HTTPException(
            401, "missing bearer token", headers={"WWW-Authenticate": 'Bearer realm="mb"'}
        )
    user_id = await services.tokens.verify(token.strip())
    if user_id is None:
        raise HTTPException(
            401,
            "invalid or revoked token",
            headers={"WWW-Authenticate": 'Bearer realm="mb", error="invalid_token"'},
        )
    return user_id


CurrentUser = Annotated[str, Depends(current_user)]
AppId = Annotated[str, Path(pattern=APP_ID_PATTERN, description="the app's id (slug)")]


async def owned_app(app_id: AppId, user: CurrentUser, services: ServicesDep) -> str:
    """The app id if it exists and belongs to the caller; 404 in every other case."""
    if await services.apps.owner(app_id) != user:
        raise HTTPException(404, f"app {app_id!r} not found")
    return app_id


OwnedApp = Annotated[str, Depends(owned_app)]


def client_ip(request: Request) -> str | None:
    """The peer address (the API listens on loopback or behind the platform's proxy)."""
    return request.client.host if request.client else None


async def current_actor(request: Request, user: CurrentUser) -> Actor:
    """The caller as the audit log records it."""
    return Actor(user_id=user, client_ip=client_ip(request))


CurrentActor = Annotated[Actor, Depends(current_actor)]


async def current_operator(actor: CurrentActor, services: ServicesDep) -> Actor:
    """The caller, if they are an operator (``MB_OPERATOR_IDS``); 403 otherwise."""
    if actor.user_id not in services.settings.operators:
        raise HTTPException(403, "operators only")
    return actor


CurrentOperator = Annotated[Actor, Depends(current_operator)]

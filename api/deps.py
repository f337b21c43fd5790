"""FastAPI dependencies: services, the authenticated user, owned apps."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Path, Request

from api.services import Services
from schemas.audit import Actor, AuditAction, AuditEvent, AuditOutcome
from schemas.deployment import APP_ID_PATTERN


def get_services(request: Request) -> Services:
    """The process-wide services, attached to the app at start-up."""
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


async def _limit(services: Services, key: str) -> None:
    """429 with ``Retry-After`` once ``key`` used up its requests of this minute."""
    verdict = await services.limiter.hit(key)
    if not verdict.allowed:
        raise HTTPException(
            429,
            f"rate limit: {verdict.limit} requests per minute; retry in {verdict.retry_after_s} s",
            headers={"Retry-After": str(verdict.retry_after_s)},
        )


async def current_user(request: Request, services: ServicesDep) -> str:
    """The user id of a valid ``Authorization: Bearer <token>``; 401 otherwise.

    Counts against the user's rate limit, or the client address's when the
    request carries no valid token (so token guessing is throttled too).
    """
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        await _limit(services, f"ip:{client_ip(request)}")
        raise HTTPException(
            401, "missing bearer token", headers={"WWW-Authenticate": 'Bearer realm="mb"'}
        )
    user_id = await services.tokens.verify(token.strip())
    if user_id is None:
        await _limit(services, f"ip:{client_ip(request)}")
        raise HTTPException(
            401,
            "invalid, expired or revoked token",
            headers={"WWW-Authenticate": 'Bearer realm="mb", error="invalid_token"'},
        )
    await _limit(services, f"user:{user_id}")
    return user_id


CurrentUser = Annotated[str, Depends(current_user)]
AppId = Annotated[str, Path(pattern=APP_ID_PATTERN, description="the app's id (slug)")]


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


async def deny(services: Services, actor: Actor, resource: str, detail: str) -> HTTPException:
    """Audit a refused owner check; the 404 to raise (the same as for a missing object)."""
    await services.audit.record(
        AuditEvent(
            actor=actor,
            action=AuditAction.ACCESS_DENIED,
            resource=resource,
            outcome=AuditOutcome.DENIED,
        )
    )
    return HTTPException(404, detail)


async def owned_app(app_id: AppId, actor: CurrentActor, services: ServicesDep) -> str:
    """The app id if it exists and belongs to the caller; 404 in every other case
    (audited when the app exists but is another user's)."""
    owner = await services.apps.owner(app_id)
    if owner != actor.user_id:
        detail = f"app {app_id!r} not found"
        if owner is None:
            raise HTTPException(404, detail)
        raise await deny(services, actor, f"app:{app_id}", detail)
    return app_id


OwnedApp = Annotated[str, Depends(owned_app)]

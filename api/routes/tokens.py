"""Service tokens: scoped, expiring, hashed at rest, revocable by their owner.

Only a logged-in session (or an unscoped operator-issued token) manages tokens,
so a leaked service token can never mint or widen another.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Request, Response, status

from api.deps import CurrentPrincipal, Principal, ServicesDep, client_ip, current_user, deny
from api.routes.deployments import ERRORS
from schemas.audit import Actor, AuditAction, AuditEvent, AuditOutcome
from schemas.identity import TokenCreate, TokenCreated
from store.tokens import TokenView

router = APIRouter(prefix="/v1/tokens", tags=["identity"])


async def token_manager(
    principal: CurrentPrincipal, _: Annotated[str, Depends(current_user)]
) -> Principal:
    """A verified caller on a session or an unscoped token; 403 for a scoped token."""
    if principal.scopes is not None:
        raise HTTPException(403, "a scoped service token cannot manage tokens")
    return principal


Manager = Annotated[Principal, Depends(token_manager)]


@router.post("", status_code=status.HTTP_201_CREATED, response_model=TokenCreated, responses=ERRORS)
async def create_token(
    body: TokenCreate, request: Request, caller: Manager, services: ServicesDep
) -> TokenCreated:
    """A new service token; the value is shown in this answer only."""
    scopes = frozenset(body.scopes)
    token_id, token = await services.tokens.issue_with_id(
        caller.user_id, ttl_s=body.ttl_s, name=body.name, scopes=scopes
    )
    await services.audit.record(
        AuditEvent(
            actor=Actor(user_id=caller.user_id, client_ip=client_ip(request)),
            action=AuditAction.TOKEN_CREATE,
            resource=f"token:{token_id}",
            outcome=AuditOutcome.OK,
            detail={"name": body.name, "scopes": sorted(scopes), "ttl_s": body.ttl_s},
        )
    )
    return TokenCreated(
        id=token_id, token=token, name=body.name, scopes=sorted(scopes), expires_in_s=body.ttl_s
    )


@router.get("", response_model=list[TokenView], responses=ERRORS)
async def list_tokens(caller: Manager, services: ServicesDep) -> list[TokenView]:
    """The caller's live tokens (never their values)."""
    return await services.tokens.list_for(caller.user_id)


@router.delete("/{token_id}", status_code=status.HTTP_204_NO_CONTENT, responses=ERRORS)
async def revoke_token(
    token_id: Annotated[str, Path(pattern=r"^[0-9a-f]{16}$")],
    request: Request,
    caller: Manager,
    services: ServicesDep,
) -> Response:
    """Revoke one of the caller's tokens at once."""
    actor = Actor(user_id=caller.user_id, client_ip=client_ip(request))
    if not await services.tokens.revoke(caller.user_id, token_id):
        raise await deny(services, actor, f"token:{token_id}", f"token {token_id!r} not found")
    await services.audit.record(
        AuditEvent(
            actor=actor,
            action=AuditAction.TOKEN_REVOKE,
            resource=f"token:{token_id}",
            outcome=AuditOutcome.OK,
        )
    )
    return Response(status_code=204)

"""FastAPI dependencies: services, the caller (token or session), scopes, owned apps."""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Path, Request

from api.client_address import client_ip as client_ip  # re-exported for the routes
from api.cookies import SESSION_COOKIE, one_cookie
from api.services import Services
from schemas.audit import Actor, AuditAction, AuditEvent, AuditOutcome
from schemas.deployment import APP_ID_PATTERN, AppStatus
from store.rate_limits import RateLimiter, Verdict
from store.status_views import AppRead


async def get_services(request: Request) -> Services:
    """The process-wide services, attached to the app at start-up (async: FastAPI runs a
    plain function dependency on a worker thread, a hop that cost as much as a query)."""
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


async def enforce(services: Services, limiter: RateLimiter, key: str, what: str) -> None:
    """429 with ``Retry-After`` once ``key`` used up its requests of the last minute (its
    first refusal in each minute is audited, for the anomaly rules)."""
    await _refuse_over(services, key, await limiter.hit(key), what)


async def _counted(services: Services, key: str, rate: Verdict | None) -> None:
    """Like ``enforce``, for a request the credential lookup already counted."""
    if rate is None:  # not counted (e.g. a lookup without a limiter)
        await _limit(services, key)
        return
    await _refuse_over(services, key, rate, "rate limit")


async def _refuse_over(services: Services, key: str, verdict: Verdict, what: str) -> None:
    if not verdict.allowed:
        services.metrics.refused_by_rate_limit(key)
        if verdict.first_refusal:
            await services.audit.record(
                AuditEvent(
                    actor=_limited_actor(key),
                    action=AuditAction.RATE_LIMITED,
                    resource=key,
                    outcome=AuditOutcome.DENIED,
                    detail={"limit": verdict.limit, "what": what},
                )
            )
        raise HTTPException(
            429,
            f"{what}: {verdict.limit} requests per minute; retry in {verdict.retry_after_s} s",
            headers={"Retry-After": str(verdict.retry_after_s)},
        )


def _limited_actor(key: str) -> Actor:
    kind, _, who = key.partition(":")
    if kind == "user" or kind == "verify-send":
        return Actor(user_id=who)
    return Actor(user_id="anonymous", client_ip=who[:64] or None)


async def _limit(services: Services, key: str) -> None:
    await enforce(services, services.limiter, key, "rate limit")


CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True)
class Principal:
    """Who is calling, and how: a bearer token or a browser session."""

    user_id: str
    verified: bool
    scopes: frozenset[str] | None = None  # None: every scope
    session_id: str | None = None  # the cookie value, for a session
    csrf_token: str | None = None
    app: AppRead | None = None  # the path's app, read with the credential (GET only)

    def allows(self, scope: str) -> bool:
        """Whether the credential covers ``scope``."""
        return self.scopes is None or scope in self.scopes


def _unauthenticated(detail: str, error: str | None = None) -> HTTPException:
    challenge = 'Bearer realm="mb"' + (f', error="{error}"' if error else "")
    return HTTPException(401, detail, headers={"WWW-Authenticate": challenge})


async def current_principal(request: Request, services: ServicesDep) -> Principal:
    """The caller from ``Authorization: Bearer <token>`` or the session cookie; 401 otherwise.

    Counts against the user's rate limit, or the client address's when the
    request carries no valid credential (so guessing is throttled too). A
    state-changing request on a session must echo its CSRF token in
    ``X-CSRF-Token`` (bearer tokens are never sent by a browser on its own).
    """
    header = request.headers.get("authorization")
    limiter = services.limiter
    # A read of an app (its status above all) gets the app's row in the credential's
    # round trip; the owner check still comes after, in owned_app_status.
    app_id = request.path_params.get("app_id") if request.method == "GET" else None
    if header is not None:
        scheme, _, token = header.partition(" ")
        info = (
            await services.tokens.lookup(token.strip(), limiter=limiter, app_id=app_id)
            if scheme.lower() == "bearer" and token
            else None
        )
        if info is None:
            await _limit(services, f"ip:{client_ip(request)}")
            if scheme.lower() != "bearer" or not token:
                raise _unauthenticated("missing bearer token")
            raise _unauthenticated("invalid, expired or revoked token", "invalid_token")
        await _counted(services, f"user:{info.user_id}", info.rate)
        return Principal(info.user_id, info.verified, info.scopes, app=info.app)
    session_id = one_cookie(request, session_cookie_name(services))
    if not session_id:
        await _limit(services, f"ip:{client_ip(request)}")
        raise _unauthenticated("missing bearer token or session")
    session = await services.sessions.check(session_id, limiter=limiter, app_id=app_id)
    if session is None:
        await _limit(services, f"ip:{client_ip(request)}")
        raise _unauthenticated("the session expired or was logged out; log in again")
    await _counted(services, f"user:{session.user_id}", session.rate)
    if request.method not in SAFE_METHODS:
        sent = request.headers.get(CSRF_HEADER, "")
        if not hmac.compare_digest(sent.encode(), session.csrf_token.encode()):
            raise HTTPException(403, "missing or wrong X-CSRF-Token for this session")
    return Principal(
        session.user_id,
        session.verified,
        session_id=session_id,
        csrf_token=session.csrf_token,
        app=session.app,
    )


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def session_cookie_name(services: Services) -> str:
    """``__Host-`` pins the cookie to our origin, path / and HTTPS (only under TLS)."""
    return f"__Host-{SESSION_COOKIE}" if services.settings.tls else SESSION_COOKIE


async def current_user(principal: CurrentPrincipal) -> str:
    """The caller's user id, once their email is verified; 403 before."""
    return verified_user(principal)


def verified_user(principal: Principal) -> str:
    """``current_user`` without a dependency of its own (for the hottest routes)."""
    if not principal.verified:
        raise HTTPException(
            403,
            "verify your email address first: follow the link we mailed you"
            " (POST /v1/auth/verify-email/resend sends a new one)",
        )
    return principal.user_id


CurrentUser = Annotated[str, Depends(current_user)]


def scope_for(area: str) -> Callable[[Request, CurrentPrincipal], Awaitable[None]]:
    """A router dependency: tokens need ``<area>:read`` to read and ``<area>:write`` to change."""

    async def check(request: Request, principal: CurrentPrincipal) -> None:
        scope = f"{area}:{'read' if request.method in SAFE_METHODS else 'write'}"
        if not principal.allows(scope):
            raise HTTPException(403, f"this token lacks the {scope!r} scope")

    return check


AppId = Annotated[str, Path(pattern=APP_ID_PATTERN, description="the app's id (slug)")]


async def current_actor(request: Request, user: CurrentUser) -> Actor:
    """The caller as the audit log records it."""
    return actor_of(request, user)


def actor_of(request: Request, user: str) -> Actor:
    """``current_actor`` without a dependency of its own (built only when needed)."""
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
        raise await _not_owned(services, actor, app_id, owner)
    return app_id


OwnedApp = Annotated[str, Depends(owned_app)]


async def owned_app_status(
    app_id: AppId, request: Request, principal: CurrentPrincipal, services: ServicesDep
) -> tuple[str, AppStatus | None]:
    """``owned_app``, and the app's published status (None: it published none), both
    read with the caller's credential when it could (else in one round trip here).

    The route pollers hit most: the caller must be verified as ``CurrentUser`` requires,
    but the audit's actor is built only for a refusal (two dependencies fewer to solve,
    and no address to parse, on every read)."""
    user = verified_user(principal)
    read = principal.app
    if read is None or read.app_id != app_id:
        read = await services.views.owner_and_app(app_id)
    if read.owner_id != user:
        raise await _not_owned(services, actor_of(request, user), app_id, read.owner_id)
    return app_id, read.status


OwnedAppStatus = Annotated[tuple[str, AppStatus | None], Depends(owned_app_status)]


async def _not_owned(
    services: Services, actor: Actor, app_id: str, owner: str | None
) -> HTTPException:
    """The 404 to raise for an app ``actor`` does not own: missing, or another user's
    (then audited)."""
    detail = f"app {app_id!r} not found"
    if owner is None:
        return HTTPException(404, detail)
    return await deny(services, actor, f"app:{app_id}", detail)

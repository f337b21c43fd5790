"""Login with OpenID Connect, sessions, logout, and email verification.

``GET /v1/auth/login`` starts the authorization code flow (PKCE, state and
nonce kept server-side under a login cookie); ``/v1/auth/callback`` finishes
it, creates the user on first login (issuer + sub), and starts a brand-new
session. Login and verification routes have their own, tighter, per-address
limit against brute force.
"""

from __future__ import annotations

import logging
import math
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request, Response
from fastapi.responses import RedirectResponse

from api.cookies import LOGIN_COOKIE, one_cookie
from api.deps import CurrentPrincipal, ServicesDep, client_ip, enforce, session_cookie_name
from api.oidc_client import OidcClient, OidcError, OidcUnavailable
from api.routes.deployments import ERRORS
from api.services import Services
from schemas.audit import Actor, AuditAction, AuditEvent, AuditOutcome
from schemas.identity import LoggedOut, Me, VerificationSent
from store.email_verification import VerifyOutcome
from store.outbox import InvalidMail

log = logging.getLogger(__name__)
router = APIRouter(prefix="/v1", tags=["identity"])
RESEND_AFTER_S = 60


async def _throttle(services: Services, key: str) -> None:
    await enforce(services, services.login_limiter, key, "too many attempts")


def _oidc(services: Services) -> OidcClient:
    if services.oidc is None:
        raise HTTPException(503, "login is not configured: set MB_OIDC_ISSUER (mb up runs one)")
    return services.oidc


def _safe_return_to(value: str | None, operators_origin: str) -> str:
    """Only a path on this site, or a page of the operators' origin (the Temporal UI
    behind our login): no other scheme or host, no ``//`` or backslash tricks."""
    if not value or "\\" in value or any(ord(c) < 0x20 for c in value) or len(value) > 500:
        return "/v1/me"
    if value.startswith(operators_origin + "/"):
        return value
    if not value.startswith("/") or value.startswith("//"):
        return "/v1/me"
    return value


async def _audit(
    services: Services, request: Request, user: str, action: AuditAction, outcome: AuditOutcome
) -> None:
    await services.audit.record(
        AuditEvent(
            actor=Actor(user_id=user, client_ip=client_ip(request)),
            action=action,
            resource=f"user:{user}",
            outcome=outcome,
        )
    )


@router.get(
    "/auth/login",
    status_code=303,
    response_class=RedirectResponse,
    responses={303: {"description": "to the identity provider"}, **ERRORS},
)
async def login(
    request: Request,
    services: ServicesDep,
    return_to: Annotated[str | None, Query(max_length=500)] = None,
) -> RedirectResponse:
    """Start logging in: redirects to the identity provider."""
    await _throttle(services, f"login:{client_ip(request)}")
    oidc = _oidc(services)
    cookie, attempt = await services.login_attempts.start(
        _safe_return_to(return_to, services.settings.operator_base_url)
    )
    try:
        url = await oidc.authorization_url(attempt)
    except OidcUnavailable as err:
        raise HTTPException(503, str(err)) from None
    except OidcError as err:
        raise HTTPException(502, str(err)) from None
    response = RedirectResponse(url, status_code=303)
    response.set_cookie(
        LOGIN_COOKIE,
        cookie,
        max_age=600,
        path="/v1/auth",
        httponly=True,
        samesite="lax",
        secure=services.settings.tls,
    )
    return response


@router.get(
    "/auth/callback",
    status_code=303,
    response_class=RedirectResponse,
    responses={303: {"description": "logged in: to return_to"}, **ERRORS},
)
async def callback(
    request: Request,
    services: ServicesDep,
    state: Annotated[str, Query(min_length=1, max_length=200)],
    code: Annotated[str | None, Query(max_length=2000)] = None,
    error: Annotated[str | None, Query(max_length=200)] = None,
) -> RedirectResponse:
    """The identity provider sends the browser back here with a code."""
    await _throttle(services, f"login:{client_ip(request)}")
    oidc = _oidc(services)
    attempt = await services.login_attempts.consume(one_cookie(request, LOGIN_COOKIE) or "", state)
    if attempt is None:
        raise HTTPException(
            400, "this login is unknown, expired or already used, or its state does not match"
        )
    if error is not None or code is None:
        raise HTTPException(400, f"the identity provider refused the login ({error or 'no code'})")
    try:
        identity = await oidc.redeem(code, attempt)
    except OidcUnavailable as err:
        raise HTTPException(503, str(err)) from None
    except OidcError as err:
        await _audit(services, request, "anonymous", AuditAction.LOGIN_FAILED, AuditOutcome.DENIED)
        raise HTTPException(400, str(err)) from None
    user = await services.users.from_login(identity.issuer, identity.subject, identity.email)
    previous = one_cookie(request, session_cookie_name(services))
    if previous:  # never keep a session id from before the login (fixation)
        await services.sessions.revoke(previous)
    address = client_ip(request)
    known = await services.sessions.known_address(user.id, address)
    session = await services.sessions.create(
        user.id, client_ip=address, user_agent=request.headers.get("user-agent")
    )
    if known is False:
        await services.notices.new_sign_in(user.id, address, services.clock())
    await _audit(services, request, user.id, AuditAction.LOGIN, AuditOutcome.OK)
    if not user.verified and user.email and await services.verifier.pending_since(user.id) is None:
        try:
            await services.verifier.issue(user)
        except InvalidMail as err:  # the provider's address is unusable; login still works
            log.warning("no verification mail for %s: %s", user.id, err)
    response = RedirectResponse(attempt.return_to, status_code=303)
    response.delete_cookie(LOGIN_COOKIE, path="/v1/auth")
    response.set_cookie(
        session_cookie_name(services),
        session.session_id,
        max_age=services.settings.session_absolute_timeout_s,
        path="/",
        httponly=True,
        samesite="lax",
        secure=services.settings.tls,
    )
    return response


@router.get("/auth/verify-email", responses=ERRORS)
async def verify_email(
    request: Request,
    services: ServicesDep,
    token: Annotated[str, Query(min_length=10, max_length=1000)],
) -> dict[str, str]:
    """Follow the link from the verification mail (works once, until it expires)."""
    await _throttle(services, f"verify:{client_ip(request)}")
    outcome, user_id = await services.verifier.confirm(token)
    if outcome is not VerifyOutcome.VERIFIED or user_id is None:
        reasons = {
            VerifyOutcome.INVALID: "this verification link is not valid",
            VerifyOutcome.EXPIRED: "this verification link has expired; ask for a new one",
            VerifyOutcome.USED: "this verification link was already used or replaced",
        }
        raise HTTPException(400, reasons[outcome])
    await _audit(services, request, user_id, AuditAction.EMAIL_VERIFY, AuditOutcome.OK)
    return {"status": "verified", "user_id": user_id}


@router.post("/auth/verify-email/resend", response_model=VerificationSent, responses=ERRORS)
async def resend_verification(
    principal: CurrentPrincipal, services: ServicesDep
) -> VerificationSent:
    """Mail a new verification link (the earlier ones stop working)."""
    await _throttle(services, f"verify-send:{principal.user_id}")
    user = await services.users.get(principal.user_id)
    if user is None or user.email is None:
        raise HTTPException(409, "your account has no email address to verify")
    if user.verified:
        raise HTTPException(409, "your email address is already verified")
    since = await services.verifier.pending_since(user.id)
    if since is not None and since < RESEND_AFTER_S:
        wait = max(1, math.ceil(RESEND_AFTER_S - since))
        raise HTTPException(
            429,
            f"a link was sent {int(since)} s ago; retry in {wait} s",
            {"Retry-After": str(wait)},
        )
    await services.verifier.issue(user)
    return VerificationSent(email=user.email)


def _clear_session_cookie(response: Response, services: Services) -> None:
    response.delete_cookie(
        session_cookie_name(services),
        path="/",
        httponly=True,
        samesite="lax",
        secure=services.settings.tls,
    )


@router.post("/auth/logout", response_model=LoggedOut, responses=ERRORS)
async def logout(
    request: Request, response: Response, principal: CurrentPrincipal, services: ServicesDep
) -> LoggedOut:
    """End this session."""
    if principal.session_id is None:
        raise HTTPException(
            400, "logout ends a session; revoke a token with DELETE /v1/tokens/{id}"
        )
    ended = await services.sessions.revoke(principal.session_id)
    await _audit(services, request, principal.user_id, AuditAction.LOGOUT, AuditOutcome.OK)
    _clear_session_cookie(response, services)
    return LoggedOut(sessions_ended=int(ended))


@router.post("/auth/logout-everywhere", response_model=LoggedOut, responses=ERRORS)
async def logout_everywhere(
    request: Request, response: Response, principal: CurrentPrincipal, services: ServicesDep
) -> LoggedOut:
    """End every session of the caller, on every device."""
    ended = await services.sessions.revoke_all(principal.user_id)
    await _audit(
        services, request, principal.user_id, AuditAction.LOGOUT_EVERYWHERE, AuditOutcome.OK
    )
    _clear_session_cookie(response, services)
    return LoggedOut(sessions_ended=ended)


@router.get("/me", response_model=Me, responses=ERRORS)
async def me(principal: CurrentPrincipal, services: ServicesDep) -> Me:
    """The caller's account, and the CSRF token of their session."""
    user = await services.users.get(principal.user_id)
    return Me(
        user_id=principal.user_id,
        email=user.email if user else None,
        email_verified=principal.verified,
        operator=principal.user_id in services.settings.operators,
        via="session" if principal.session_id else "token",
        scopes=sorted(principal.scopes) if principal.scopes is not None else None,
        csrf_token=principal.csrf_token,
    )

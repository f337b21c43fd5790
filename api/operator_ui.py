"""The operators' origin: the Temporal Web UI behind our login, with its codec endpoint.

One origin (``MB_OPERATOR_PORT`` on the API's host) serves, to operators only:

- the Temporal Web UI, reverse-proxied from the dev server's (or a cluster's) UI
  server, which listens on loopback only; its pages and its API calls (plain HTTP
  requests and long polls: the UI uses no websockets or server-sent events);
- the UI's codec endpoint at ``/mb/codec`` (``--ui-codec-endpoint`` points there):
  the UI posts payloads to its own origin, so the browser sends the session cookie
  without any UI setting, and every decode is audited before it happens;
- QA reports at ``/mb/reports/<deployment id>``, linked from each deployment's page.

The session cookie is the API's (host-only: browsers ignore ports, so it reaches this
origin; under TLS it is ``__Host-`` and this origin is HTTPS too). Anonymous visitors
are sent to our login with a ``return_to`` back here; signed-in users who are not
operators (``MB_OPERATOR_IDS``, email verified) get a plain 403 page and decode
nothing. A request that may change anything (a decode, a signal, a termination) must
come from this origin: its ``Origin`` must be ours and ``Sec-Fetch-Site``, when the
browser sends it, ``same-origin``; no CORS header is ever granted, and ``SameSite=Lax``
keeps the cookie off cross-site posts anyway. Operators' state-changing UI actions are
audited (who, what path) before they are forwarded; if the audit row cannot be written
nothing is forwarded.
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from html import escape
from typing import Annotated
from urllib.parse import quote

import httpx
from fastapi import Depends, FastAPI, HTTPException, Path, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.responses import StreamingResponse as Streaming
from starlette.background import BackgroundTask

from api.client_address import client_ip
from api.codec_server import CodecEndpoint
from api.cookies import is_ours, one_cookie, plants_ours
from api.deps import SAFE_METHODS, ServicesDep, enforce, session_cookie_name
from api.framing import RejectAmbiguousFraming
from api.proxy_headers import HOP_BY_HOP, PRIVATE_REQUEST_HEADERS
from api.report_html import CONTENT_SECURITY_POLICY, render_report
from api.services import Services
from monitoring.http_metrics import MetricsMiddleware
from schemas.audit import Actor, AuditAction, AuditEvent, AuditOutcome
from schemas.deployment import REQUEST_ID_PATTERN
from schemas.operators import OPERATOR_CODEC_PATH, OPERATOR_REPORTS_PATH
from schemas.qa import QAGateReport
from store.artifacts import ArtifactNotFound
from store.audit import AuditWriteFailed
from temporal.codec import EncryptionCodec

log = logging.getLogger(__name__)

# Added beside the UI's own policies (its pages set theirs in a meta tag or a header):
# browsers enforce every one. connect-src 'self' keeps decoded payloads from leaving
# this origin; the UI frames its own pages (it renders markdown at /render).
UI_CSP = (
    "frame-ancestors 'self'; connect-src 'self'; form-action 'self'; base-uri 'self';"
    " object-src 'none'"
)
PAGE_CSP = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'"
HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}
_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]
_IMMUTABLE_ASSETS = "/_app/immutable/"
_RENDER = "render"  # the UI's markdown renderer (framed by its own pages)
_OUR_LINK = re.compile(r"\]\((/mb/[^)\s]*)\)")


class LogInFirst(Exception):
    """No live session: a page is sent to our login, anything else gets 401."""

    def __init__(self, location: str) -> None:
        super().__init__(location)
        self.location = location


class NotAnOperator(Exception):
    """Signed in, but not an operator (or their email is not verified yet)."""

    def __init__(self, user_id: str, verified: bool) -> None:
        super().__init__(user_id)
        self.user_id = user_id
        self.verified = verified


def _navigation(request: Request) -> bool:
    """Whether the browser is loading a page (rather than a script fetching data)."""
    if request.method not in ("GET", "HEAD"):
        return False
    mode = request.headers.get("sec-fetch-mode")
    if mode is not None:
        return mode == "navigate"
    return "text/html" in request.headers.get("accept", "")


def _login_url(services: Services, request: Request) -> str:
    settings = services.settings
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    back = settings.operator_base_url + here
    if len(back) > 500:  # the login's return_to limit
        back = settings.operator_base_url + "/"
    return f"{settings.api_base_url}/v1/auth/login?return_to={quote(back, safe='')}"


def _same_origin(request: Request, services: Services) -> bool:
    origin = request.headers.get("origin")
    site = request.headers.get("sec-fetch-site")
    return origin == services.settings.operator_base_url and site in (None, "same-origin")


async def operator_session(request: Request, services: ServicesDep) -> Actor:
    """The operator behind this request's session; refuses everyone and everything else."""
    if request.method not in SAFE_METHODS and not _same_origin(request, services):
        log.warning("operators' origin: refused a %s from another origin", request.method)
        raise HTTPException(403, "requests that change anything must come from this origin")
    session_id = one_cookie(request, session_cookie_name(services))
    session = await services.sessions.check(session_id) if session_id else None
    if session is None:
        await enforce(services, services.limiter, f"ip:{client_ip(request)}", "rate limit")
        raise LogInFirst(_login_url(services, request))
    actor = Actor(user_id=session.user_id, client_ip=client_ip(request))
    if not session.verified or session.user_id not in services.settings.operators:
        if request.url.path.startswith(OPERATOR_CODEC_PATH + "/"):
            endpoint: CodecEndpoint = request.app.state.codec
            reason = "not an operator" if session.verified else "email not verified"
            await endpoint.refused(request, actor, reason)
        raise NotAnOperator(session.user_id, session.verified)
    return actor


Operator = Annotated[Actor, Depends(operator_session)]


class UpstreamUI:
    """The Temporal UI server this origin fronts (on loopback), with one keep-alive client."""

    def __init__(self, base_url: str, origin: str) -> None:
        self.origin = origin
        # A history page long-polls for new events (the server answers within a minute).
        self.client = httpx.AsyncClient(
            base_url=base_url,
            timeout=httpx.Timeout(connect=5.0, read=120.0, write=30.0, pool=10.0),
        )

    async def forward(self, request: Request, path: str) -> Response:
        """Send the request on and stream the answer back, minus anything of ours."""
        headers = {
            k: v
            for k, v in request.headers.items()
            if k.lower() not in HOP_BY_HOP and k.lower() not in PRIVATE_REQUEST_HEADERS
        }
        theirs = "; ".join(
            part.strip()
            for part in request.headers.get("cookie", "").split(";")
            if part.strip() and not is_ours(part.split("=", 1)[0])
        )
        if theirs:
            headers["cookie"] = theirs  # the UI server's own CSRF cookie
        has_body = "content-length" in request.headers or "transfer-encoding" in request.headers
        params: list[tuple[str, str | int | float | bool | None]] = list(
            request.query_params.multi_items()
        )
        if path == _RENDER:
            params = [(k, self._absolute(str(v)) if k == "content" else v) for k, v in params]
        upstream = self.client.build_request(
            request.method,
            "/" + path,
            params=params,
            headers=headers,
            content=request.stream() if has_body else None,
        )
        try:
            response = await self.client.send(upstream, stream=True)
        except httpx.TimeoutException:
            raise HTTPException(504, "the Temporal UI did not answer in time") from None
        except httpx.TransportError:
            raise HTTPException(502, "the Temporal UI is not reachable") from None
        kept = {
            k: v
            for k, v in response.headers.items()
            if k.lower() not in HOP_BY_HOP
            and k.lower() != "set-cookie"
            and not k.lower().startswith("access-control-")
            and k.lower() not in ("x-frame-options", "content-security-policy")
        }
        answer = Streaming(
            response.aiter_raw(),
            status_code=response.status_code,
            headers=kept,
            background=BackgroundTask(response.aclose),
        )
        for name, value in response.headers.multi_items():
            kept_too = name.lower() == "content-security-policy" or (
                name.lower() == "set-cookie" and not plants_ours(value)
            )
            if kept_too:
                answer.raw_headers.append((name.lower().encode(), value.encode("latin-1")))
        answer.raw_headers.append((b"content-security-policy", UI_CSP.encode()))
        answer.headers["X-Frame-Options"] = "SAMEORIGIN"
        if not path.startswith(_IMMUTABLE_ASSETS.strip("/")):
            answer.headers["Cache-Control"] = "no-store"
        return answer

    def _absolute(self, markdown: str) -> str:
        """Links to our pages made absolute: the UI renders a workflow's details in a
        sandboxed frame, where only absolute links open (in a new tab)."""
        return _OUR_LINK.sub(lambda m: f"]({self.origin}{m.group(1)})", markdown)

    async def close(self) -> None:
        """Close the client."""
        await self.client.aclose()


def _page(status: int, title: str, body: str) -> HTMLResponse:
    return HTMLResponse(
        f"<!doctype html><meta charset=utf-8><title>{escape(title)}</title>"
        f"<h1>{escape(title)}</h1>{body}",
        status_code=status,
        headers={"Content-Security-Policy": PAGE_CSP, "Cache-Control": "no-store"},
    )


def create_operator_app(services: Services, codecs: dict[str, EncryptionCodec]) -> FastAPI:
    """The operators' origin for the UI at ``services.settings.ui_base_url``."""
    upstream = UpstreamUI(services.settings.ui_base_url, services.settings.operator_base_url)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        await upstream.close()

    app = FastAPI(lifespan=lifespan, openapi_url=None, docs_url=None, redoc_url=None)
    app.state.services = services
    app.state.codec = CodecEndpoint(
        codecs, services.audit, audit_failed=lambda: services.metrics.audit_failed("operators")
    )

    @app.exception_handler(LogInFirst)
    async def log_in_first(request: Request, exc: LogInFirst) -> Response:
        if _navigation(request):
            return RedirectResponse(exc.location, status_code=303)
        return JSONResponse(
            {"detail": "log in first", "login": exc.location},
            status_code=401,
            headers={"Cache-Control": "no-store"},
        )

    @app.exception_handler(NotAnOperator)
    async def not_an_operator(request: Request, exc: NotAnOperator) -> Response:
        why = (
            "verify your email address first (follow the link we mailed you)"
            if not exc.verified
            else "operators are the users listed in MB_OPERATOR_IDS"
        )
        if not _navigation(request):
            return JSONResponse({"detail": f"operators only: {why}"}, status_code=403)
        return _page(
            403,
            "Operators only",
            f"<p>You are signed in as user <code>{escape(exc.user_id)}</code>, who may not"
            f" use the operators' Temporal UI: {escape(why)}.</p>",
        )

    @app.exception_handler(AuditWriteFailed)
    async def audit_down(_: Request, exc: AuditWriteFailed) -> JSONResponse:
        log.error("%s", exc)
        services.metrics.audit_failed("operators")
        return JSONResponse(
            {"detail": "the audit log cannot be written, so nothing was done; retry shortly"},
            status_code=503,
            headers={"Retry-After": "5"},
        )

    @app.post(f"{OPERATOR_CODEC_PATH}/decode")
    async def decode(request: Request, who: Operator) -> Response:
        """The UI's codec: decrypt payloads for an operator (audited first)."""
        endpoint: CodecEndpoint = request.app.state.codec
        return await endpoint.answer(request, who, decode=True)

    @app.post(f"{OPERATOR_CODEC_PATH}/encode")
    async def encode(request: Request, who: Operator) -> Response:
        """The UI's codec: encrypt payloads (a signal's input an operator typed)."""
        endpoint: CodecEndpoint = request.app.state.codec
        return await endpoint.answer(request, who, decode=False)

    @app.get(OPERATOR_REPORTS_PATH + "/{deployment_id}")
    async def report(
        deployment_id: Annotated[str, Path(pattern=REQUEST_ID_PATTERN)], who: Operator
    ) -> HTMLResponse:
        """A deployment's QA report, for operators (audited before it is read)."""
        await services.audit.record(
            AuditEvent(
                actor=who,
                action=AuditAction.QA_REPORT_READ,
                resource=f"report:{deployment_id}",
                outcome=AuditOutcome.OK,
            )
        )
        row = await services.qa_reports.report(deployment_id)
        if row is None:
            return _page(404, "No QA report", "<p>This deployment has no QA report (yet).</p>")
        try:
            gate = QAGateReport.model_validate_json(await services.artifacts.get(row.report_sha256))
        except ArtifactNotFound:
            return _page(404, "QA report missing", "<p>The report's artifact is gone.</p>")
        return HTMLResponse(
            render_report(gate, title=f"QA report of deployment {deployment_id}"),
            headers={
                "Content-Security-Policy": CONTENT_SECURITY_POLICY,
                "Cache-Control": "no-store",
            },
        )

    @app.api_route("/{path:path}", methods=_METHODS, include_in_schema=False)
    async def ui(path: str, request: Request, who: Operator) -> Response:
        """Everything else is the Temporal UI; what may change state is audited first."""
        if request.method not in SAFE_METHODS and "/query/" not in request.url.path:
            await services.audit.record(
                AuditEvent(
                    actor=who,
                    action=AuditAction.TEMPORAL_UI_ACTION,
                    resource=f"temporal-ui:{request.url.path}"[:500],
                    outcome=AuditOutcome.OK,
                    detail={"method": request.method},
                )
            )
        return await upstream.forward(request, path)

    @app.middleware("http")
    async def headers(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        for name, value in HEADERS.items():
            response.headers[name] = value
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Content-Security-Policy", PAGE_CSP)
        if request.url.scheme == "https":
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        return response

    app.add_middleware(RejectAmbiguousFraming)
    app.add_middleware(MetricsMiddleware, metrics=services.metrics, server="operators")
    return app

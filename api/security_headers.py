"""Security headers on every response, and ``/.well-known/security.txt`` (RFC 9116).

API responses get a CSP that allows nothing (they are JSON, or our own
report page which sets its own stricter-than-default policy). Deployed apps
behind the gateway keep their own scripts, styles and policies, but may not be
framed or sniffed, whatever headers they send themselves.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from fastapi import FastAPI, Request, Response
from fastapi.responses import PlainTextResponse

from schemas.settings import Settings

API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
APP_CSP = "frame-ancestors 'none'; base-uri 'self'; object-src 'none'"
# FastAPI's interactive docs load Swagger UI / ReDoc from their CDN.
DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "img-src 'self' data: https://fastapi.tiangolo.com; frame-ancestors 'none'"
)
DOCS_PATHS = ("/docs", "/redoc")
COMMON = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
}


def install_security_headers(app: FastAPI, settings: Settings) -> None:
    """Add the headers middleware and the security.txt route."""

    @app.middleware("http")
    async def headers(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        path = request.url.path
        if path.startswith("/apps/"):
            _unweakened(response)
        for name, value in COMMON.items():
            response.headers.setdefault(name, value)
        policy = DOCS_CSP if path.startswith(DOCS_PATHS) else API_CSP
        response.headers.setdefault("Content-Security-Policy", policy)
        if request.url.scheme == "https":
            response.headers.setdefault(
                "Strict-Transport-Security", "max-age=31536000; includeSubDomains"
            )
        return response

    @app.get("/.well-known/security.txt", include_in_schema=False)
    async def security_txt() -> PlainTextResponse:
        """How to report a vulnerability (RFC 9116)."""
        expires = (datetime.now(UTC) + timedelta(days=180)).replace(microsecond=0)
        lines = [
            f"Contact: {settings.security_contact}",
            f"Expires: {expires.isoformat().replace('+00:00', 'Z')}",
            "Preferred-Languages: en",
            f"Canonical: {settings.api_base_url}/.well-known/security.txt",
        ]
        if settings.security_policy_url:
            lines.append(f"Policy: {settings.security_policy_url}")
        return PlainTextResponse("\n".join(lines) + "\n")


def _unweakened(response: Response) -> None:
    """An app's answer keeps the app's own policies, but never loses ours: browsers
    enforce every ``Content-Security-Policy`` header, so ours is added beside the
    app's (its ``frame-ancestors *`` cannot lift our ``'none'``), and the app's own
    ``X-Frame-Options`` and ``X-Content-Type-Options`` are replaced."""
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["X-Content-Type-Options"] = "nosniff"
    if APP_CSP not in response.headers.getlist("Content-Security-Policy"):
        response.headers.append("Content-Security-Policy", APP_CSP)

"""The FastAPI application: routes, error mapping and the gateway."""

from __future__ import annotations

import asyncio
import logging
import math
import time
from datetime import timedelta

import psycopg
import psycopg_pool
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse
from temporalio.api.workflowservice.v1 import GetSystemInfoRequest
from temporalio.client import Client
from temporalio.service import RPCError

from api.deps import scope_for
from api.framing import RejectAmbiguousFraming
from api.limits import BodySizeLimit
from api.routes import (
    apps,
    audit,
    auth,
    deployments,
    egress,
    hosts,
    incidents,
    privacy,
    qa_overrides,
    reports,
    review,
    secrets,
    tokens,
)
from api.security_headers import install_security_headers
from api.services import Services
from monitoring.http_metrics import MetricsMiddleware
from pipeline.operations import PipelineRequestError, unanswered
from schemas.bundle import MAX_BUNDLE_BYTES
from store.audit import AuditWriteFailed
from store.db import DatabaseUnavailable
from store.envelope import DecryptionFailed, UnknownMasterKey
from store.secrets import SecretNotFound

log = logging.getLogger(__name__)
_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


def create_app(services: Services) -> FastAPI:
    """The API for one process, bound to already-connected services."""

    app = FastAPI(
        title="MicroBuilder deployment pipeline",
        version="1",
        description="Start, watch and roll back QA-gated deployments of micro apps.",
    )
    app.state.services = services
    app.include_router(auth.router)
    app.include_router(tokens.router)
    app.include_router(privacy.router)
    app.include_router(apps.router, dependencies=[Depends(scope_for("apps"))])
    app.include_router(deployments.router, dependencies=[Depends(scope_for("apps"))])
    app.include_router(reports.router, dependencies=[Depends(scope_for("apps"))])
    app.include_router(secrets.router, dependencies=[Depends(scope_for("secrets"))])
    app.include_router(audit.router, dependencies=[Depends(scope_for("audit"))])
    app.include_router(review.router, dependencies=[Depends(scope_for("review"))])
    app.include_router(review.moderation_router, dependencies=[Depends(scope_for("review"))])
    app.include_router(incidents.router, dependencies=[Depends(scope_for("review"))])
    app.include_router(incidents.alerts_router, dependencies=[Depends(scope_for("review"))])
    app.include_router(qa_overrides.router, dependencies=[Depends(scope_for("review"))])
    app.include_router(egress.router, dependencies=[Depends(scope_for("review"))])
    app.include_router(egress.apps_router, dependencies=[Depends(scope_for("apps"))])
    app.include_router(hosts.router, dependencies=[Depends(scope_for("review"))])

    @app.api_route("/apps/{path:path}", methods=_METHODS, include_in_schema=False)
    async def apps_live_elsewhere(path: str, request: Request) -> RedirectResponse:
        """Deployed apps are served from their own origin, never the API's."""
        query = f"?{request.url.query}" if request.url.query else ""
        return RedirectResponse(
            f"{services.settings.apps_base_url}/apps/{path}{query}", status_code=308
        )

    app.add_middleware(RejectAmbiguousFraming)
    app.add_middleware(BodySizeLimit, limit=MAX_BUNDLE_BYTES * 2)
    install_security_headers(app, services.settings)
    _install_error_handlers(app)
    app.add_middleware(MetricsMiddleware, metrics=services.metrics, server="api")

    temporal_health = TemporalHealth(services.temporal)

    @app.get("/healthz", tags=["ops"])
    async def healthz() -> JSONResponse:
        """200 when PostgreSQL and Temporal both answer; 503 naming what does not."""
        problems = []
        try:
            async with asyncio.timeout(3):
                async with services.db.connection() as conn:
                    await conn.execute("SELECT 1")
        except Exception as err:
            log.warning("healthz: the database check failed (%s)", type(err).__name__)
            problems.append("database unreachable")
        temporal_problem = await temporal_health.check()
        if temporal_problem is not None:
            problems.append(temporal_problem)
        if problems:
            return JSONResponse({"status": "degraded", "problems": problems}, status_code=503)
        return JSONResponse({"status": "ok"})

    return app


class TemporalHealth:
    """Temporal's answer to GetSystemInfo, checked at most once per ``ttl_s``.

    /healthz is unauthenticated: without this, a flood of health checks would spend
    the Temporal frontend's rate budget (the workers' too) one call per request.
    """

    def __init__(self, client: Client, ttl_s: float = 1.0) -> None:
        self._client = client
        self._ttl_s = ttl_s
        self._lock = asyncio.Lock()
        self._checked_at = -math.inf
        self._problem: str | None = None

    async def check(self) -> str | None:
        """None when Temporal answers; else what is wrong."""
        async with self._lock:
            if time.monotonic() - self._checked_at >= self._ttl_s:
                try:
                    await self._client.workflow_service.get_system_info(
                        GetSystemInfoRequest(), timeout=timedelta(seconds=3)
                    )
                    self._problem = None
                except Exception as err:
                    log.warning("healthz: the Temporal check failed (%s)", type(err).__name__)
                    self._problem = "temporal unreachable"
                self._checked_at = time.monotonic()
            return self._problem


def _install_error_handlers(app: FastAPI) -> None:
    """Map domain and infrastructure errors to clear 4xx/503 answers (never a traceback)."""

    @app.exception_handler(PipelineRequestError)
    async def pipeline_error(_: Request, exc: PipelineRequestError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=exc.status)

    @app.exception_handler(SecretNotFound)
    async def secret_not_found(_: Request, exc: SecretNotFound) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=404)

    @app.exception_handler(AuditWriteFailed)
    async def audit_down(request: Request, exc: AuditWriteFailed) -> JSONResponse:
        log.error("%s", exc)
        services: Services = request.app.state.services
        services.metrics.audit_failed("api")
        return JSONResponse(
            {"detail": "the audit log cannot be written, so nothing was done; retry shortly"},
            status_code=503,
            headers={"Retry-After": "5"},
        )

    @app.exception_handler(DecryptionFailed)
    @app.exception_handler(UnknownMasterKey)
    async def undecryptable(_: Request, exc: Exception) -> JSONResponse:
        log.error("secret integrity failure: %s", exc)
        return JSONResponse(
            {"detail": "the stored secret failed its integrity check; operators have been told"},
            status_code=500,
        )

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        reasons = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
            message = str(err.get("msg", "invalid")).removeprefix("Value error, ")
            reasons.append(f"{where}: {message}" if where else message)
        return JSONResponse({"detail": "; ".join(reasons)}, status_code=422)

    async def unavailable(what: str) -> JSONResponse:
        return JSONResponse(
            {"detail": f"{what} is unavailable; retry shortly"},
            status_code=503,
            headers={"Retry-After": "5"},
        )

    @app.exception_handler(psycopg.OperationalError)
    async def database_down(_: Request, exc: psycopg.OperationalError) -> JSONResponse:
        log.warning("database error: %s", type(exc).__name__)
        return await unavailable("the database")

    @app.exception_handler(psycopg_pool.PoolTimeout)
    @app.exception_handler(DatabaseUnavailable)
    async def database_unavailable(_: Request, __: Exception) -> JSONResponse:
        log.warning("database unavailable")
        return await unavailable("the database")

    @app.exception_handler(RPCError)
    async def temporal_error(_: Request, exc: RPCError) -> JSONResponse:
        if unanswered(exc):
            return await unavailable("the workflow service")
        log.error("temporal error %s: %s", exc.status, exc.message)
        return JSONResponse({"detail": "workflow service error"}, status_code=502)

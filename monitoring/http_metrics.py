"""Prometheus metrics of our HTTP servers (API, apps gateway, operators' origin).

Every label value is bounded and impersonal: the server's name, the method (unknown
ones count as ``other``), the route *template* (``/v1/apps/{app_id}``, never the path
a client typed; requests no route matched share ``unmatched``), the status code, the
kind of rate limit. No user id, email, app id, token or prompt ever becomes a label:
app ids are chosen by users (``nina-smith-wedding``) and unbounded in number.

The registry is served as Prometheus text on its own loopback port
(``MB_METRICS_HOST``:``MB_METRICS_PORT``), never on a public one.
"""

from __future__ import annotations

import time

from prometheus_client import (
    CollectorRegistry,
    Counter,
    GCCollector,
    Histogram,
    ProcessCollector,
    make_asgi_app,
)
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED = "unmatched"
# Our answers range from a cached health check to a bundle upload streamed to the
# store, and a Temporal UI long poll that waits up to a minute for new events.
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class HttpMetrics:
    """One process's HTTP instruments, in a registry of their own (tests build many)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)
        GCCollector(registry=self.registry)
        self.requests = Counter(
            "mb_http_requests",
            "HTTP requests answered, by server, method, route template and status",
            ["server", "method", "route", "status"],
            registry=self.registry,
        )
        self.duration = Histogram(
            "mb_http_request_duration_seconds",
            "Time to answer an HTTP request (to the end of the body), by route template",
            ["server", "method", "route"],
            buckets=BUCKETS,
            registry=self.registry,
        )
        self.rate_limited = Counter(
            "mb_rate_limit_refusals",
            "Requests refused by a rate limit (429), by what was counted: ip, user, login,"
            " verify, verify-send",
            ["limit"],
            registry=self.registry,
        )
        self.audit_failures = Counter(
            "mb_audit_write_failures",
            "Audit rows that could not be written (the guarded action was refused)",
            ["server"],
            registry=self.registry,
        )

    def refused_by_rate_limit(self, key: str) -> None:
        """Count a 429; ``key`` is the limiter's key, of which only the kind is kept."""
        kind = key.partition(":")[0]
        self.rate_limited.labels(limit=kind if kind in _LIMIT_KINDS else "other").inc()

    def audit_failed(self, server: str) -> None:
        """Count an audit row that could not be written."""
        self.audit_failures.labels(server=server).inc()

    def asgi_app(self) -> ASGIApp:
        """The Prometheus text endpoint of this registry (serve it on loopback)."""
        app: ASGIApp = make_asgi_app(self.registry)
        return app


_LIMIT_KINDS = frozenset({"ip", "user", "login", "verify", "verify-send"})


class MetricsMiddleware:
    """Counts and times every request of one server (install it outermost)."""

    def __init__(self, app: ASGIApp, *, metrics: HttpMetrics, server: str) -> None:
        self.app = app
        self.metrics = metrics
        self.server = server

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            method = scope["method"] if scope["method"] in METHODS else "other"
            route = _template(scope)
            self.metrics.requests.labels(self.server, method, route, str(status)).inc()
            self.metrics.duration.labels(self.server, method, route).observe(
                time.perf_counter() - started
            )


def _template(scope: Scope) -> str:
    """The path template of the route that answered, as the app declared it."""
    route = scope.get("route")
    if isinstance(route, BaseRoute):
        path = getattr(route, "path", None)
        if isinstance(path, str):
            return path
    return UNMATCHED

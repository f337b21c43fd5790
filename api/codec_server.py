"""The remote codec protocol for operators: Temporal's ``POST /encode`` and ``POST /decode``.

:class:`CodecEndpoint` answers one request for a caller already known to be an
operator: every decode is audited before anything is decoded, and nothing is
decoded if the audit row cannot be written. Two doors lead to it:

- the codec server (:func:`create_codec_server`, ``mb codec-server`` and ``mb up``'s
  ``MB_CODEC_PORT``) for ``temporal workflow show --codec-endpoint ... --codec-auth``:
  an operator's bearer token; browsers only from the configured origins (``mb up``
  configures none: any ``Origin`` gets 403 and no ``Access-Control-Allow-Origin``);
- the operators' origin (``api.operator_ui``), where the Temporal UI sends payloads
  with the operator's session, from its own origin only.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from google.protobuf import json_format
from temporalio.api.common.v1 import Payloads

from api.client_address import client_ip
from monitoring.http_metrics import HttpMetrics, MetricsMiddleware
from schemas.audit import Actor, AuditAction, AuditEvent, AuditOutcome
from store.audit import AuditLog, AuditWriteFailed
from store.tokens import TokenRepository
from temporal.codec import CodecError, EncryptionCodec

log = logging.getLogger(__name__)
MAX_BODY_BYTES = 8 * 1024 * 1024
ALLOWED_HEADERS = "Authorization, Content-Type, X-Namespace"


def _error(status: int, detail: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status, headers=headers)


class CodecEndpoint:
    """Encode and decode Temporal ``Payloads`` JSON for an operator, auditing first."""

    def __init__(
        self,
        codecs: dict[str, EncryptionCodec],
        audit: AuditLog,
        *,
        audit_failed: Callable[[], None] | None = None,
    ) -> None:
        self._codecs = codecs
        self._audit = audit
        self._audit_failed = audit_failed

    async def refused(self, request: Request, actor: Actor, reason: str) -> None:
        """Record a caller refused a decode (best effort: the refusal stands anyway)."""
        try:
            await self._audit.record(
                AuditEvent(
                    actor=actor,
                    action=AuditAction.PAYLOAD_DECODE,
                    resource=f"namespace:{request.headers.get('x-namespace', '')[:100]}",
                    outcome=AuditOutcome.DENIED,
                    detail={"reason": reason},
                )
            )
        except AuditWriteFailed as exc:
            self._failed(exc)

    async def answer(self, request: Request, who: Actor, *, decode: bool) -> Response:
        """The encoded or decoded payloads; a decode is audited before it happens."""
        namespace = request.headers.get("x-namespace", "")
        codec = self._codecs.get(namespace)
        if codec is None:
            return _error(400, f"unknown namespace {namespace[:100]!r} (X-Namespace)")
        body = await request.body()
        if len(body) > MAX_BODY_BYTES:
            return _error(413, f"at most {MAX_BODY_BYTES} bytes")
        payloads = Payloads()
        try:
            json_format.Parse(body, payloads)
        except json_format.ParseError:
            return _error(400, 'body must be Temporal Payloads JSON: {"payloads": [...]}')
        if decode:
            try:
                await self._audit.record(
                    AuditEvent(
                        actor=who,
                        action=AuditAction.PAYLOAD_DECODE,
                        resource=f"namespace:{namespace}",
                        outcome=AuditOutcome.OK,
                        detail={
                            "payloads": len(payloads.payloads),
                            "workflow": request.headers.get("x-workflow-id", "")[:200] or None,
                        },
                    )
                )
            except AuditWriteFailed as exc:
                self._failed(exc)
                return _error(503, "the audit log cannot be written, so nothing was decoded")
        try:
            work = codec.decode if decode else codec.encode
            result = await work(list(payloads.payloads))
        except CodecError as exc:
            log.warning("%s refused for %s: %s", "decode" if decode else "encode", who.user_id, exc)
            return _error(422, str(exc))
        return Response(
            json_format.MessageToJson(Payloads(payloads=result)),
            media_type="application/json",
            headers={"Cache-Control": "no-store"},
        )

    def _failed(self, exc: AuditWriteFailed) -> None:
        log.error("%s", exc)
        if self._audit_failed is not None:
            self._audit_failed()


def create_codec_server(
    codecs: dict[str, EncryptionCodec],
    tokens: TokenRepository,
    audit: AuditLog,
    *,
    operators: frozenset[str],
    ui_origins: frozenset[str],
    metrics: HttpMetrics | None = None,
) -> FastAPI:
    """The codec server for the given namespaces' codecs (bearer tokens of operators)."""
    app = FastAPI(title="MicroBuilder codec server", docs_url=None, redoc_url=None)
    endpoint = CodecEndpoint(
        codecs,
        audit,
        audit_failed=None if metrics is None else lambda: metrics.audit_failed("codec"),
    )

    def cors(origin: str | None) -> dict[str, str]:
        if origin is None:
            return {}
        return {
            "Access-Control-Allow-Origin": origin,
            "Access-Control-Allow-Credentials": "true",
            "Vary": "Origin",
        }

    @app.middleware("http")
    async def origin_check(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        origin = request.headers.get("origin")
        if origin is not None and origin not in ui_origins:
            return _error(403, "origin not allowed")
        if request.method == "OPTIONS":
            return Response(
                status_code=204,
                headers={
                    **cors(origin),
                    "Access-Control-Allow-Methods": "POST, OPTIONS",
                    "Access-Control-Allow-Headers": ALLOWED_HEADERS,
                    "Access-Control-Max-Age": "600",
                },
            )
        response = await call_next(request)
        response.headers.update(cors(origin))
        return response

    async def operator(request: Request) -> Actor | JSONResponse:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            return _error(401, "missing bearer token", {"WWW-Authenticate": "Bearer"})
        info = await tokens.lookup(token.strip())
        if info is None:
            return _error(401, "invalid, expired or revoked token", {"WWW-Authenticate": "Bearer"})
        user = info.user_id
        actor = Actor(user_id=user, client_ip=client_ip(request))
        # Scoped service tokens are for the platform API, never for reading payloads.
        if user not in operators or info.scopes is not None:
            reason = "not an operator" if user not in operators else "a scoped service token"
            await endpoint.refused(request, actor, reason)
            return _error(403, "operators only, with an operator token (not a scoped one)")
        return actor

    async def handle(request: Request, decode: bool) -> Response:
        who = await operator(request)
        if isinstance(who, JSONResponse):
            return who
        return await endpoint.answer(request, who, decode=decode)

    @app.post("/decode")
    async def decode(request: Request) -> Response:
        """Decrypt payloads for an operator (audited first)."""
        return await handle(request, decode=True)

    @app.post("/encode")
    async def encode(request: Request) -> Response:
        """Encrypt payloads (e.g. a signal an operator sends)."""
        return await handle(request, decode=False)

    if metrics is not None:
        app.add_middleware(MetricsMiddleware, metrics=metrics, server="codec")
    return app

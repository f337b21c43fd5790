"""The codec server: operators decode, nobody else; only the UI's origin gets CORS;
every decode audited first, and nothing decoded when the audit cannot be written."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator

import httpx
import pytest
from temporalio.api.common.v1 import Payload

from api.codec_server import create_codec_server
from store.audit import AuditLog
from store.db import Database
from store.tokens import TokenRepository
from temporal.codec import EncryptionCodec, key_id_for

UI = "http://127.0.0.1:8233"
KEY = bytes(range(32))
CODEC = EncryptionCodec({key_id_for(KEY): KEY}, key_id_for(KEY), "default")
MARKER = b'{"prompt": "codec-server-marker"}'


def _json(payloads: list[Payload]) -> dict[str, object]:
    return {
        "payloads": [
            {
                "metadata": {k: base64.b64encode(v).decode() for k, v in p.metadata.items()},
                "data": base64.b64encode(p.data).decode(),
            }
            for p in payloads
        ]
    }


class Server:
    def __init__(self, http: httpx.AsyncClient, tokens: dict[str, str], db: Database) -> None:
        self.http = http
        self.tokens = tokens
        self.db = db

    async def post(
        self, path: str, body: object, *, user: str | None = "ops", **headers: str
    ) -> httpx.Response:
        sent = {"X-Namespace": "default", **headers}
        if user is not None:
            sent["Authorization"] = f"Bearer {self.tokens[user]}"
        return await self.http.post(path, json=body, headers=sent)


@pytest.fixture
async def server(db: Database) -> AsyncIterator[Server]:
    tokens = TokenRepository(db)
    issued = {}
    for user in ("ops", "alice"):
        await tokens.ensure_user(user, user)
        issued[user] = await tokens.issue(user)
    app = create_codec_server(
        {"default": CODEC},
        tokens,
        AuditLog(db),
        operators=frozenset({"ops"}),
        ui_origins=frozenset({UI}),
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://codec"
    ) as http:
        yield Server(http, issued, db)


async def _encrypted() -> dict[str, object]:
    plain = Payload(metadata={"encoding": b"json/plain"}, data=MARKER)
    return _json(await CODEC.encode([plain]))


async def test_an_operator_decodes_and_the_decode_is_audited(server: Server) -> None:
    body = await _encrypted()
    assert b"codec-server-marker" not in json.dumps(body).encode()
    r = await server.post("/decode", body, **{"X-Workflow-Id": "deploy-shop-1"})
    assert r.status_code == 200, r.text
    (payload,) = r.json()["payloads"]
    assert base64.b64decode(payload["data"]) == MARKER
    assert r.headers["cache-control"] == "no-store"
    (row,) = await AuditLog(server.db).search(action="payload.decode")
    assert (row.actor, row.outcome, row.resource) == ("ops", "ok", "namespace:default")
    assert row.detail == {"payloads": 1, "workflow": "deploy-shop-1"}

    encoded = await server.post("/encode", r.json())
    assert encoded.status_code == 200
    again = await server.post("/decode", encoded.json())
    assert base64.b64decode(again.json()["payloads"][0]["data"]) == MARKER


async def test_no_token_a_bad_token_or_a_non_operator_decode_nothing(server: Server) -> None:
    body = await _encrypted()
    missing = await server.post("/decode", body, user=None)
    assert missing.status_code == 401
    server.tokens["forged"] = "mbt_" + "A" * 43
    forged = await server.post("/decode", body, user="forged")
    assert forged.status_code == 401
    refused = await server.post("/decode", body, user="alice")
    assert refused.status_code == 403
    for r in (missing, forged, refused):
        assert "codec-server-marker" not in r.text
    denied = await AuditLog(server.db).search(actor="alice")
    assert [(r.action, r.outcome) for r in denied] == [("payload.decode", "denied")]


async def test_cors_only_for_the_ui_origin(server: Server) -> None:
    preflight = await server.http.options(
        "/decode",
        headers={
            "Origin": UI,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, x-namespace, content-type",
        },
    )
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == UI
    allowed = {
        h.strip().lower() for h in preflight.headers["access-control-allow-headers"].split(",")
    }
    assert {"x-namespace", "authorization"} <= allowed
    ok = await server.post("/decode", await _encrypted(), Origin=UI)
    assert ok.status_code == 200 and ok.headers["access-control-allow-origin"] == UI

    for origin in ("http://evil.example", "http://127.0.0.1:8234", "null"):
        foreign = await server.post("/decode", await _encrypted(), Origin=origin)
        assert foreign.status_code == 403
        assert "access-control-allow-origin" not in foreign.headers
        assert "codec-server-marker" not in foreign.text
        pre = await server.http.options(
            "/decode", headers={"Origin": origin, "Access-Control-Request-Method": "POST"}
        )
        assert pre.status_code == 403 and "access-control-allow-origin" not in pre.headers


async def test_tampered_unknown_namespace_and_garbage_are_clear_errors(server: Server) -> None:
    body = await _encrypted()
    payload = body["payloads"][0]  # type: ignore[index]
    data = bytearray(base64.b64decode(payload["data"]))
    data[-1] ^= 1
    payload["data"] = base64.b64encode(bytes(data)).decode()
    tampered = await server.post("/decode", body)
    assert tampered.status_code == 422 and "authentication" in tampered.json()["detail"]
    other = await server.post("/decode", await _encrypted(), **{"X-Namespace": "prod"})
    assert other.status_code == 400 and "namespace" in other.json()["detail"]
    garbage = await server.http.post(
        "/decode",
        content=b"not json",
        headers={"Authorization": f"Bearer {server.tokens['ops']}", "X-Namespace": "default"},
    )
    assert garbage.status_code == 400


async def test_nothing_is_decoded_when_the_audit_cannot_be_written(server: Server) -> None:
    async with server.db.connection() as conn:
        await conn.execute("ALTER TABLE audit_log RENAME TO audit_log_gone")
    r = await server.post("/decode", await _encrypted())
    assert r.status_code == 503
    assert "codec-server-marker" not in r.text and "payloads" not in r.text


async def test_an_expired_operator_token_decodes_nothing(server: Server) -> None:
    tokens = TokenRepository(server.db)
    server.tokens["brief"] = await tokens.issue("ops", ttl_s=1)
    assert (await server.post("/decode", await _encrypted(), user="brief")).status_code == 200
    await asyncio.sleep(1.2)
    expired = await server.post("/decode", await _encrypted(), user="brief")
    assert expired.status_code == 401 and "expired" in expired.json()["detail"]
    assert "codec-server-marker" not in expired.text


async def test_an_operators_scoped_service_token_decodes_nothing(server: Server) -> None:
    tokens = TokenRepository(server.db)
    server.tokens["ci"] = await tokens.issue("ops", scopes=frozenset({"apps:read"}))
    r = await server.post("/decode", await _encrypted(), user="ci")
    assert r.status_code == 403 and "scoped" in r.json()["detail"]
    assert "codec-server-marker" not in r.text
    (row,) = await AuditLog(server.db).search(actor="ops", outcome="denied")
    assert row.detail == {"reason": "a scoped service token"}

"""Malformed and ambiguous HTTP framing over a raw socket: a clear 4xx, never a 5xx,
and never a second request smuggled to the app.

The gateway and the API are served by uvicorn as ``mb up`` serves them; the app
behind the gateway echoes what reached it and counts its requests.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import uvicorn
from starlette.types import Receive, Scope, Send
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from api.gateway import create_gateway_app
from api.services import Services
from api.tls import server_config
from cli.stack import EmbeddedServer
from schemas.settings import Settings
from store.db import Database
from temporal.devserver import free_loopback_port


@dataclass
class CountingApp:
    """A deployed app that records every request that reached it."""

    paths: list[str] = field(default_factory=list)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        self.paths.append(scope["path"])
        payload = json.dumps({"path": scope["path"], "body": body.decode("latin-1")}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": payload})


@dataclass
class Served:
    host: str
    port: int
    app: CountingApp


async def _start(config: uvicorn.Config) -> tuple[EmbeddedServer, asyncio.Task[None]]:
    server = EmbeddedServer(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        assert not task.done(), "a server did not start"
        await asyncio.sleep(0.02)
    return server, task


@pytest.fixture
async def gateway(db: Database, tmp_path: Path) -> AsyncIterator[Served]:
    app = CountingApp()
    socket_path = str(tmp_path / "app.sock")
    settings = Settings(data_dir=tmp_path / "data")
    services = Services.build(settings, db, temporal=None)  # type: ignore[arg-type]
    await services.releases.switch(
        app_id="echo-app",
        owner_id="alice",
        version=1,
        instance_id="echo-app-v1",
        socket_path=socket_path,
        host="local",
        reason="test",
        request_id="r1",
    )
    port = free_loopback_port()
    running = [
        await _start(uvicorn.Config(app, uds=socket_path, log_level="warning")),
        await _start(
            server_config(
                create_gateway_app(services),
                settings,
                host=settings.apps_host,
                port=port,
                log_level="warning",
            )
        ),
    ]
    try:
        yield Served(settings.apps_host, port, app)
    finally:
        for server, task in running:
            server.should_exit = True
            await task


async def exchange(host: str, port: int, raw: bytes, *, wait_s: float = 1.0) -> bytes:
    """Send ``raw`` on a fresh connection; everything the server answered until it
    closed the connection or went quiet for ``wait_s``."""
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(raw)
        await writer.drain()
        answer = b""
        while True:
            try:
                chunk = await asyncio.wait_for(reader.read(65536), wait_s)
            except TimeoutError:
                break
            if not chunk:
                break
            answer += chunk
        return answer
    finally:
        writer.close()


def statuses(answer: bytes) -> list[int]:
    """The status code of every response in ``answer``."""
    return [
        int(line.split(b" ")[1])
        for line in answer.split(b"\r\n")
        if line.startswith(b"HTTP/1.1 ") and len(line.split(b" ")) > 1
    ]


SMUGGLED = b"GET /apps/echo-app/smuggled HTTP/1.1\r\nHost: x\r\n\r\n"
P = b"POST /apps/echo-app/front HTTP/1.1\r\nHost: apps\r\n"

CORPUS: dict[str, bytes] = {
    "CL.TE": P + b"Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + SMUGGLED,
    "TE.CL": P
    + b"Transfer-Encoding: chunked\r\nContent-Length: 60\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
    + SMUGGLED,
    "TE.CL, short length": P
    + b"Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    "two lengths": P + b"Content-Length: 5\r\nContent-Length: 50\r\n\r\nhello" + SMUGGLED,
    "length list": P + b"Content-Length: 5, 6\r\n\r\nhello!",
    "signed length": P + b"Content-Length: +5\r\n\r\nhello",
    "negative length": P + b"Content-Length: -1\r\n\r\n" + SMUGGLED,
    "hex length": P + b"Content-Length: 0x5\r\n\r\nhello",
    "huge length": P + b"Content-Length: 99999999999999999999999\r\n\r\nhello",
    "TE xchunked": P + b"Transfer-Encoding: xchunked\r\n\r\n0\r\n\r\n" + SMUGGLED,
    "TE chunked, identity": P + b"Transfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n",
    "TE identity": P + b"Transfer-Encoding: identity\r\nContent-Length: 5\r\n\r\nhello",
    "TE twice": P
    + b"Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n0\r\n\r\n"
    + SMUGGLED,
    "TE with a tab": P + b"Transfer-Encoding:\tchunked\r\nContent-Length: 4\r\n\r\n0\r\n\r\n",
    "TE space before colon": P
    + b"Transfer-Encoding : chunked\r\nContent-Length: 4\r\n\r\n0\r\n\r\n"
    + SMUGGLED,
    "TE folded": P + b"Transfer-Encoding:\r\n chunked\r\nContent-Length: 4\r\n\r\n0\r\n\r\n",
    "TE upper case": P + b"TRANSFER-ENCODING: CHUNKED\r\nContent-Length: 4\r\n\r\n0\r\n\r\n",
    "bad chunk size": P + b"Transfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
    "chunk size overflow": P
    + b"Transfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFFFFFFFF\r\nhello\r\n0\r\n\r\n",
    "chunk longer than said": P + b"Transfer-Encoding: chunked\r\n\r\n3\r\nhello\r\n0\r\n\r\n",
    "chunk without CRLF": P + b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello0\r\n\r\n",
    "chunk extension junk": P + b"Transfer-Encoding: chunked\r\n\r\n5;\x00x\r\nhello\r\n0\r\n\r\n",
    "bare LF": b"POST /apps/echo-app/front HTTP/1.1\nHost: apps\nContent-Length: 5\n\nhello",
    "bare CR in header": P
    + b"X-A: a\rTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\nhello",
    "NUL in header": P + b"X-A: a\x00b\r\nContent-Length: 5\r\n\r\nhello",
    "header without colon": P + b"Transfer-Encoding chunked\r\nContent-Length: 5\r\n\r\nhello",
    "space in method": b"PO ST /apps/echo-app/front HTTP/1.1\r\nHost: apps\r\n\r\n",
    "HTTP/1.0 with TE": b"POST /apps/echo-app/front HTTP/1.0\r\nTransfer-Encoding: chunked\r\n"
    b"Content-Length: 4\r\n\r\n0\r\n\r\n",
    "absolute URI": b"GET http://127.0.0.1/apps/echo-app/ HTTP/1.1\r\nHost: apps\r\n\r\n",
    "two hosts": b"GET /apps/echo-app/ HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
    "no host": b"GET /apps/echo-app/ HTTP/1.1\r\n\r\n",
    "GET with CL.TE": b"GET /apps/echo-app/front HTTP/1.1\r\nHost: apps\r\nContent-Length: 4\r\n"
    b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + SMUGGLED,
}


@pytest.mark.reliability(
    "Request smuggling",
    done="Send 32 malformed or ambiguously framed requests (CL.TE, TE.CL, obfuscated"
    " Transfer-Encoding, bad chunks, bare LF, NUL...) to the gateway over a raw socket",
)
async def test_the_gateway_answers_malformed_framing_with_a_4xx_and_smuggles_nothing(
    gateway: Served,
) -> None:
    """Each gets a 4xx (or, where HTTP allows it, one ordinary answer), never a 5xx;
    no request hidden in a body ever reaches the app."""
    answers = {}
    for name, raw in CORPUS.items():
        answers[name] = statuses(await exchange(gateway.host, gateway.port, raw))
    assert not [(n, s) for n, s in answers.items() if any(code >= 500 for code in s)], answers
    assert "/smuggled" not in gateway.app.paths, answers
    assert answers["CL.TE"] == [400] and answers["TE.CL"] == [400], answers
    assert answers["GET with CL.TE"] == [400], answers
    assert all(s and all(400 <= c < 500 or c == 200 for c in s) for s in answers.values()), answers


async def test_ordinary_bodies_still_reach_the_app(gateway: Served) -> None:
    chunked = P + b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
    sized = P + b"Content-Length: 11\r\n\r\nhello world"
    for raw in (chunked, sized):
        answer = await exchange(gateway.host, gateway.port, raw, wait_s=1.0)
        assert statuses(answer) == [200]
        assert b'"body": "hello world"' in answer


async def test_the_api_answers_malformed_framing_with_a_4xx(
    db: Database, env: WorkflowEnvironment, tmp_path: Path
) -> None:
    settings = Settings(data_dir=tmp_path / "data", api_port=free_loopback_port())
    server, task = await _start(
        server_config(
            create_app(Services.build(settings, db, env.client)),
            settings,
            port=settings.api_port,
            log_level="warning",
        )
    )
    try:
        answers = {}
        for name, raw in CORPUS.items():
            request = raw.replace(b"/apps/echo-app/front", b"/v1/apps").replace(
                b"/apps/echo-app/", b"/v1/apps"
            )
            answers[name] = statuses(await exchange("127.0.0.1", settings.api_port, request))
    finally:
        server.should_exit = True
        await task
    assert not [(n, s) for n, s in answers.items() if any(code >= 500 for code in s)], answers
    assert answers["CL.TE"] == [400] and answers["TE.CL"] == [400], answers

"""Two hosts on loopback: a front gateway (in process) and a real host gateway (mutual TLS on
127.0.0.3), sharing one gateway CA and one PostgreSQL, with an app on a unix socket."""

from __future__ import annotations

import asyncio
import shutil
import socket
import ssl
import tempfile
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from starlette.types import Message, Receive, Scope, Send

from api.gateway import create_gateway_app
from api.services import Services
from cli.host_gateway_process import run_host_gateway
from schemas.settings import Settings
from store.db import Database
from store.gateway_certs import host_server_name
from tests.api.test_gateway import echo_app
from tests.servers import serve

HOST = "hosta"
HOST_ADDRESS = "127.0.0.3"
CLIENT = "198.51.100.7"


# What a hostile app adds to its answers: our cookie, and a framing header lifted.
_HOSTILE = [
    (b"set-cookie", b"mb_session=planted; Path=/"),
    (b"set-cookie", b"theme=dark; Path=/apps/echo-app/"),
    (b"x-frame-options", b"ALLOWALL"),
]


@dataclass
class RecordingApp:
    """A stand-in deployed app: ``echo_app``, which also keeps the path and headers of each
    request that reached it, answers ``/slow`` after 2 s and adds ``_HOSTILE`` headers."""

    seen: list[dict[str, Any]] = field(default_factory=list)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Record, then echo."""
        if scope["type"] == "http":
            headers = {k.decode(): v.decode() for k, v in scope["headers"]}
            self.seen.append({"path": scope["path"], "headers": headers})
            if scope["path"] == "/slow":
                await asyncio.sleep(2)

        async def hostile(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message["headers"], *_HOSTILE]}
            await send(message)

        await echo_app(scope, receive, hostile)


@dataclass
class TwoHosts:
    """The front gateway's client, its services, the host gateway's settings, the app."""

    front: httpx.AsyncClient
    services: Services
    host_settings: Settings
    app: RecordingApp
    socket_path: str
    ca_dir: Path

    @property
    def host_url(self) -> str:
        """Where the host gateway listens."""
        return self.host_settings.host_gateway_base_url

    async def route(self, app_id: str, host: str, socket_path: str | None = None) -> None:
        """Make ``app_id`` live on ``host`` (at the app's socket unless told otherwise)."""
        await self.services.releases.switch(
            app_id=app_id,
            owner_id="alice",
            version=1,
            instance_id=f"{app_id}-v1",
            socket_path=socket_path or self.socket_path,
            host=host,
            reason="test",
            request_id=f"{app_id}-{host}",
        )


def free_port(address: str) -> int:
    """A port nothing listens on at ``address`` right now."""
    with socket.socket() as sock:
        sock.bind((address, 0))
        return int(sock.getsockname()[1])


def client_context(ca_pem: str, cert: Path | None, key: Path | None) -> ssl.SSLContext:
    """A client that trusts the gateway CA and presents ``cert`` (or nothing)."""
    context = ssl.create_default_context(cadata=ca_pem)
    if cert is not None and key is not None:
        context.load_cert_chain(cert, key)
    return context


async def direct(context: ssl.SSLContext, url: str, path: str) -> httpx.Response:
    """GET ``path`` from the host gateway at ``url`` with ``context`` (no front gateway)."""
    async with httpx.AsyncClient(verify=context, trust_env=False, timeout=10) as client:
        return await client.get(url + path, extensions={"sni_hostname": host_server_name(HOST)})


@asynccontextmanager
async def two_hosts(db: Database, *, renew_check_s: float = 3600.0) -> AsyncIterator[TwoHosts]:
    """Start the app, the host gateway of ``hosta`` and the front gateway; stop them after."""
    root = Path(tempfile.mkdtemp(prefix="mb-hg-"))
    stop = asyncio.Event()
    try:
        async with AsyncExitStack() as stack:
            app = RecordingApp()
            socket_path = str(root / "app.sock")
            await serve(stack, uvicorn.Config(app, uds=socket_path, log_level="warning"))
            ca_dir = root / "ca"
            host_settings = Settings(
                data_dir=root / "host",
                runtime_host=HOST,
                host_gateway_host=HOST_ADDRESS,
                host_gateway_port=free_port(HOST_ADDRESS),
                gateway_ca_dir=ca_dir,
            )
            ready = asyncio.Event()
            gateway = asyncio.create_task(
                run_host_gateway(host_settings, db, stop, ready=ready, renew_check_s=renew_check_s)
            )
            waiting = asyncio.create_task(ready.wait())
            await asyncio.wait([gateway, waiting], return_when=asyncio.FIRST_COMPLETED)
            if gateway.done():
                gateway.result()

            async def stop_gateway() -> None:
                stop.set()
                await gateway

            # Stopped last: the front gateway's connections to it are closed by then.
            stack.push_async_callback(stop_gateway)
            front_settings = Settings(
                data_dir=root / "front", runtime_host="front", gateway_ca_dir=ca_dir
            )
            # The gateway needs no Temporal: Services requires a client, never used here.
            services = Services.build(front_settings, db, temporal=None)  # type: ignore[arg-type]
            front_app = create_gateway_app(services)
            front = await stack.enter_async_context(
                httpx.AsyncClient(
                    # A client address the front gateway alone knows (no traffic goes there).
                    transport=httpx.ASGITransport(app=front_app, client=(CLIENT, 40000)),
                    base_url="http://testserver",
                )
            )
            await stack.enter_async_context(front_app.router.lifespan_context(front_app))
            yield TwoHosts(front, services, host_settings, app, socket_path, ca_dir)
    finally:
        shutil.rmtree(root, ignore_errors=True)

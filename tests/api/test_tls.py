"""HTTPS: TLS 1.3 only (a TLS 1.2 client is refused), a self-signed certificate created
once with a private key, HSTS on every answer over TLS."""

from __future__ import annotations

import asyncio
import ipaddress
import ssl
import stat
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from api.services import Services
from api.tls import ensure_certificate, server_config
from cli.stack import EmbeddedServer
from schemas.settings import Settings
from store.db import Database
from temporal.devserver import free_loopback_port


@pytest.fixture
async def https(
    db: Database, env: WorkflowEnvironment, tmp_path: Path
) -> AsyncIterator[tuple[str, Path]]:
    port = free_loopback_port()
    settings = Settings(data_dir=tmp_path / "data", tls=True, api_port=port)
    server = EmbeddedServer(
        server_config(
            create_app(Services.build(settings, db, env.client)),
            settings,
            port=port,
            log_level="warning",
        )
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        assert not task.done(), "the HTTPS server did not start"
        await asyncio.sleep(0.05)
    try:
        yield f"https://127.0.0.1:{port}", tmp_path / "data" / "tls" / "server.crt"
    finally:
        server.should_exit = True
        await task


def _client_context(cert: Path, *, maximum: ssl.TLSVersion | None = None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(cert))
    if maximum is not None:
        context.maximum_version = maximum
    return context


async def test_tls_1_3_is_served_with_hsts(https: tuple[str, Path]) -> None:
    url, cert = https
    async with httpx.AsyncClient(verify=_client_context(cert)) as client:
        r = await client.get(url + "/healthz")
        assert r.status_code in (200, 503)
        assert r.headers["strict-transport-security"].startswith("max-age=")
        version = r.extensions["network_stream"].get_extra_info("ssl_object").version()
    assert version == "TLSv1.3"


async def test_a_tls_1_2_client_is_refused(https: tuple[str, Path]) -> None:
    url, cert = https
    context = _client_context(cert, maximum=ssl.TLSVersion.TLSv1_2)
    async with httpx.AsyncClient(verify=context) as client:
        with pytest.raises(httpx.ConnectError):
            await client.get(url + "/healthz")


async def test_plain_http_on_the_https_port_gets_nothing(https: tuple[str, Path]) -> None:
    url, _ = https
    async with httpx.AsyncClient() as client:
        with pytest.raises(httpx.HTTPError):
            await client.get(url.replace("https://", "http://") + "/healthz")


def test_the_certificate_is_made_once_with_a_private_key(tmp_path: Path) -> None:
    cert, key = ensure_certificate(tmp_path / "tls")
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    first = cert.read_bytes()
    assert ensure_certificate(tmp_path / "tls") == (cert, key)
    assert cert.read_bytes() == first


def test_the_certificate_names_the_apps_host_and_is_remade_when_it_does_not(
    tmp_path: Path,
) -> None:
    cert, key = ensure_certificate(tmp_path / "tls")  # as made before the apps moved host
    older = cert.read_bytes()
    assert ensure_certificate(tmp_path / "tls", hosts=("127.0.0.2",)) == (cert, key)
    assert cert.read_bytes() != older
    san = x509.load_pem_x509_certificate(cert.read_bytes()).extensions
    names = san.get_extension_for_class(x509.SubjectAlternativeName).value
    assert x509.IPAddress(ipaddress.ip_address("127.0.0.2")) in names
    assert x509.IPAddress(ipaddress.ip_address("127.0.0.1")) in names
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    kept = cert.read_bytes()
    assert ensure_certificate(tmp_path / "tls", hosts=("127.0.0.2",)) == (cert, key)
    assert cert.read_bytes() == kept

"""Mutual TLS between the front gateway and the host gateways.

A host gateway accepts a connection only when the client presents a certificate
that the gateway CA signed, that may authenticate a client (TLS refuses any
other), and that names the front gateway (``FrontOnlyProtocol`` closes the
connection otherwise: a host gateway's own certificate, or anything else the
CA signed, is not the front gateway). The front gateway trusts only the gateway
CA and checks that the server's certificate names the route's host.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import ssl
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from uvicorn.protocols.http.h11_impl import H11Protocol

from schemas.settings import Settings
from store.gateway_certs import (
    FRONT_IDENTITY,
    RENEW_WITHIN,
    GatewayFiles,
    front_gateway_files,
)

log = logging.getLogger(__name__)


def host_gateway_context(files: GatewayFiles) -> ssl.SSLContext:
    """A host gateway's server context: TLS 1.3, a client certificate from the CA required."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_3
    context.load_cert_chain(files.certificate, files.key)
    context.load_verify_locations(cadata=files.ca_pem)
    context.verify_mode = ssl.CERT_REQUIRED
    context.verify_flags |= ssl.VERIFY_X509_STRICT
    return context


def front_client_context(files: GatewayFiles) -> ssl.SSLContext:
    """The front gateway's client context: TLS 1.3, only the gateway CA trusted, the
    server's name checked, the front gateway's certificate presented."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_3
    context.load_verify_locations(cadata=files.ca_pem)
    context.verify_flags |= ssl.VERIFY_X509_STRICT
    context.load_cert_chain(files.certificate, files.key)
    return context


def is_front_gateway(peercert: dict[str, Any] | None) -> bool:
    """Whether a verified peer certificate (``SSLSocket.getpeercert()``) names the front
    gateway."""
    if not peercert:
        return False
    return ("URI", FRONT_IDENTITY) in peercert.get("subjectAltName", ())


class FrontOnlyProtocol(H11Protocol):
    """uvicorn's HTTP/1.1 protocol that closes any connection whose client certificate
    does not name the front gateway, before reading a byte of its request."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        """Check the peer, then serve as usual."""
        super().connection_made(transport)
        if not is_front_gateway(transport.get_extra_info("peercert")):
            log.warning("host gateway: refused a client certificate that is not the front's")
            transport.close()


class FrontCredentials:
    """The front gateway's client context, built on first use and again when its
    certificate is due for renewal; ``generation`` changes with the certificate."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._context: ssl.SSLContext | None = None
        self._renew_at = datetime.datetime.min.replace(tzinfo=datetime.UTC)
        self.generation = ""

    async def context(self) -> ssl.SSLContext:
        """The current context (issuing the certificate, and the CA, when missing)."""
        if self._context is None or datetime.datetime.now(datetime.UTC) >= self._renew_at:
            files = await asyncio.to_thread(front_gateway_files, self._settings)
            cert = x509.load_pem_x509_certificate(files.certificate.read_bytes())
            self._context = front_client_context(files)
            self._renew_at = cert.not_valid_after_utc - RENEW_WITHIN
            self.generation = cert.fingerprint(hashes.SHA256()).hex()[:16]
        return self._context

"""HTTPS for the API and the codec server: TLS 1.3 only, and a self-signed certificate
generated into the data directory when none is given (``mb up --tls``)."""

from __future__ import annotations

import datetime
import ipaddress
import os
import ssl
from pathlib import Path

import uvicorn
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from schemas.settings import Settings

CERT_NAME = "server.crt"
KEY_NAME = "server.key"


def ensure_certificate(directory: Path, *, days: int = 365) -> tuple[Path, Path]:
    """(certificate, private key) under ``directory``, self-signed for localhost and
    127.0.0.1 / ::1, created on first use (the key 0600, never overwritten)."""
    cert_path, key_path = directory / CERT_NAME, directory / KEY_NAME
    if cert_path.exists() and key_path.exists():
        return cert_path, key_path
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "MicroBuilder local")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.DNSName("localhost"),
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                    x509.IPAddress(ipaddress.ip_address("::1")),
                ]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(key, hashes.SHA256())
    )
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return cert_path, key_path


def tls_files(settings: Settings) -> tuple[Path, Path] | None:
    """The certificate and key to serve with, or None when TLS is off."""
    if not settings.tls:
        return None
    if settings.tls_cert is not None or settings.tls_key is not None:
        if settings.tls_cert is None or settings.tls_key is None:
            raise ValueError("MB_TLS_CERT and MB_TLS_KEY go together")
        return settings.tls_cert, settings.tls_key
    return ensure_certificate(settings.data_path / "tls")


def server_config(
    app: object, settings: Settings, *, port: int, **kwargs: object
) -> uvicorn.Config:
    """A uvicorn configuration for ``app``: TLS 1.3 only when TLS is on."""
    files = tls_files(settings)
    tls = {} if files is None else {"ssl_certfile": str(files[0]), "ssl_keyfile": str(files[1])}
    return TLS13Config(app, host=settings.api_host, port=port, **tls, **kwargs)  # type: ignore[arg-type]


class TLS13Config(uvicorn.Config):
    """uvicorn's configuration with TLS 1.3 as the minimum protocol version."""

    def load(self) -> None:
        """Build uvicorn's SSL context, then refuse anything older than TLS 1.3."""
        super().load()
        if self.ssl is not None:
            self.ssl.minimum_version = ssl.TLSVersion.TLSv1_3

"""How the API, the gateway and the codec server are served: TLS 1.3 only, with a
self-signed certificate generated into the data directory when none is given
(``mb up --tls``), and forwarding headers trusted only from configured proxies."""

from __future__ import annotations

import datetime
import ssl
from pathlib import Path

import uvicorn
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from schemas.settings import Settings
from store.gateway_certs import general_name
from store.key_files import write_private_key

CERT_NAME = "server.crt"
KEY_NAME = "server.key"


LOCAL_NAMES = ("localhost", "127.0.0.1", "::1")


def ensure_certificate(
    directory: Path, *, hosts: tuple[str, ...] = (), days: int = 365
) -> tuple[Path, Path]:
    """(certificate, private key) under ``directory``, self-signed for localhost,
    127.0.0.1, ::1 and ``hosts`` (e.g. the apps' loopback address), created on first
    use (the key 0600) and made again only when it does not name every host."""
    cert_path, key_path = directory / CERT_NAME, directory / KEY_NAME
    names = tuple(dict.fromkeys((*LOCAL_NAMES, *hosts)))
    if cert_path.exists() and key_path.exists() and _names_all(cert_path, names):
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
            x509.SubjectAlternativeName([general_name(n) for n in names]), critical=False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(key, hashes.SHA256())
    )
    write_private_key(key_path, key)
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return cert_path, key_path


def _names_all(cert_path: Path, names: tuple[str, ...]) -> bool:
    """Whether the certificate at ``cert_path`` is valid for every name in ``names``."""
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (ValueError, x509.ExtensionNotFound):
        return False
    return all(general_name(n) in san for n in names)


def tls_files(settings: Settings) -> tuple[Path, Path] | None:
    """The certificate and key to serve with, or None when TLS is off."""
    if not settings.tls:
        return None
    if settings.tls_cert is not None or settings.tls_key is not None:
        if settings.tls_cert is None or settings.tls_key is None:
            raise ValueError("MB_TLS_CERT and MB_TLS_KEY go together")
        return settings.tls_cert, settings.tls_key
    return ensure_certificate(
        settings.data_path / "tls", hosts=(settings.api_host, settings.apps_host)
    )


def server_config(
    app: object, settings: Settings, *, port: int, host: str | None = None, **kwargs: object
) -> uvicorn.Config:
    """A uvicorn configuration for ``app`` on ``host`` (default: the API's): TLS 1.3 only
    when TLS is on, and forwarding headers believed only from ``MB_TRUSTED_PROXIES``.

    uvicorn otherwise trusts ``X-Forwarded-For`` from 127.0.0.1 (or its own
    ``FORWARDED_ALLOW_IPS``), so any local client could pick the address that rate
    limits and the audit log see.
    """
    files = tls_files(settings)
    tls = {} if files is None else {"ssl_certfile": str(files[0]), "ssl_keyfile": str(files[1])}
    return TLS13Config(
        app,  # type: ignore[arg-type]
        host=host or settings.api_host,
        port=port,
        proxy_headers=bool(settings.trusted_proxies),
        forwarded_allow_ips=list(settings.trusted_proxies),
        **tls,  # type: ignore[arg-type]
        **kwargs,  # type: ignore[arg-type]
    )


class TLS13Config(uvicorn.Config):
    """uvicorn's configuration with TLS 1.3 as the minimum protocol version."""

    def load(self) -> None:
        """Build uvicorn's SSL context, then refuse anything older than TLS 1.3."""
        super().load()
        if self.ssl is not None:
            self.ssl.minimum_version = ssl.TLSVersion.TLSv1_3

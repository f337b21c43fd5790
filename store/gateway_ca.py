"""The gateways' certificate authority, read from the configured key source.

The front gateway and every host gateway trust this CA, and only it. Where it
comes from is a ``CaSource``: a directory (the embedded default,
``gateway-ca`` in the key source's directory, created on first start in the
embedded ``<data dir>/keys``; in production one secret mounted on every host), or
PEM text in the environment. ``store.key_source.gateway_ca_source`` chooses; a
KMS-backed key source implements ``KeySource.gateway_ca``. The CA is ECDSA P-256, its
private key a 0600 file.
"""

from __future__ import annotations

import datetime
import fcntl
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from schemas.settings import Settings
from store.key_files import write_private_key

CA_CERT = "ca.crt"
CA_KEY = "ca.key"
CA_DAYS = 1095


class GatewayCaError(RuntimeError):
    """The configured CA cannot be used (half configured, unreadable, unsafe, not a CA)."""


@dataclass(frozen=True)
class GatewayCa:
    """The CA's certificate and private key."""

    certificate: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    def certificate_pem(self) -> str:
        """The CA certificate, PEM (what both gateways trust)."""
        return self.certificate.public_bytes(serialization.Encoding.PEM).decode()


class CaSource(Protocol):
    """Where the CA comes from: every host reads the same one."""

    def load(self) -> GatewayCa:
        """The CA (a source may create it on first use)."""
        ...


class DirectoryCaSource:
    """``ca.crt`` and ``ca.key`` (0600) in a directory, created there when absent."""

    def __init__(self, directory: Path, *, create: bool = True) -> None:
        self.directory = directory
        self.create = create

    def load(self) -> GatewayCa:
        """Read the CA, creating it on first use (unless ``create`` is off)."""
        cert_path, key_path = self.directory / CA_CERT, self.directory / CA_KEY
        if not key_path.exists():
            if not self.create:
                raise GatewayCaError(f"no gateway CA ({CA_KEY}) in {self.directory}")
            self._create()
        if key_path.stat().st_mode & 0o077:
            raise GatewayCaError(f"{key_path} is readable by others; chmod 600 it")
        if not cert_path.exists():
            raise GatewayCaError(f"{key_path} has no {CA_CERT} beside it")
        return parse_ca(cert_path.read_bytes(), key_path.read_bytes(), str(self.directory))

    def _create(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        # Processes starting together make one CA: the first to hold the lock.
        with (self.directory / ".lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if (self.directory / CA_KEY).exists():
                return
            key = ec.generate_private_key(ec.SECP256R1())
            cert = _self_signed(key)
            # The certificate first, then the key by rename: who sees the key sees both.
            (self.directory / CA_CERT).write_bytes(cert.public_bytes(serialization.Encoding.PEM))
            write_private_key(self.directory / CA_KEY, key)


class PemCaSource:
    """The CA given as PEM text (``MB_GATEWAY_CA_CERT`` and ``MB_GATEWAY_CA_KEY``)."""

    def __init__(self, certificate_pem: str, key_pem: str) -> None:
        self._certificate = certificate_pem.encode()
        self._key = key_pem.encode()

    def load(self) -> GatewayCa:
        """Parse the CA (nothing is written)."""
        return parse_ca(self._certificate, self._key, "MB_GATEWAY_CA_CERT/MB_GATEWAY_CA_KEY")


def configured_ca_source(settings: Settings) -> CaSource | None:
    """The CA the environment names (PEM, or ``MB_GATEWAY_CA_DIR``); None when it names none."""
    cert, key = settings.gateway_ca_cert, settings.gateway_ca_key
    if (cert is None) != (key is None):
        raise GatewayCaError("MB_GATEWAY_CA_CERT and MB_GATEWAY_CA_KEY go together")
    if cert is not None and key is not None:
        return PemCaSource(cert.get_secret_value(), key.get_secret_value())
    if settings.gateway_ca_dir is not None:
        return DirectoryCaSource(settings.gateway_ca_dir.expanduser().absolute())
    return None


def parse_ca(certificate_pem: bytes, key_pem: bytes, where: str) -> GatewayCa:
    """A CA from PEM, checked: an ECDSA P-256 key that matches a CA certificate."""
    try:
        cert = x509.load_pem_x509_certificate(certificate_pem)
        key = serialization.load_pem_private_key(key_pem, password=None)
    except (ValueError, TypeError):
        unreadable = f"the gateway CA in {where} is not a PEM certificate and key"
        raise GatewayCaError(unreadable) from None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
        raise GatewayCaError(f"the gateway CA key in {where} is not an ECDSA P-256 key")
    if cert.public_key() != key.public_key():
        raise GatewayCaError(f"the gateway CA certificate in {where} does not match its key")
    try:
        constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        constraints = None
    if constraints is None or not constraints.ca:
        raise GatewayCaError(f"the gateway CA certificate in {where} is not a CA certificate")
    return GatewayCa(cert, key)


def _self_signed(key: ec.EllipticCurvePrivateKey) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "MicroBuilder gateway CA")])
    now = datetime.datetime.now(datetime.UTC)
    public = key.public_key()
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )

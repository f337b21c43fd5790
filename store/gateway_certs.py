"""The gateways' own certificates: issued from the gateway CA, renewed at start.

Identities: the front gateway's client certificate carries the URI
``urn:microbuilder:gateway:front`` (and may only authenticate a client); a
host gateway's server certificate carries the DNS name
``<runtime host>.host-gateway.mb.invalid`` and the address it listens on (and
may only authenticate a server). Each certificate lives 30 days and is issued
again when fewer than 10 remain, when it was not issued by the current CA, or
when its names changed.
"""

from __future__ import annotations

import datetime
import ipaddress
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from schemas.settings import Settings
from store.gateway_ca import GatewayCa, GatewayCaError
from store.key_files import write_private_key
from store.key_source import gateway_ca_source

FRONT_IDENTITY = "urn:microbuilder:gateway:front"
HOST_DOMAIN = "host-gateway.mb.invalid"
LEAF_DAYS = 30
RENEW_WITHIN = datetime.timedelta(days=10)
_HOST_NAME = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")


@dataclass(frozen=True)
class GatewayFiles:
    """A gateway's certificate and key files, and the CA it trusts (PEM)."""

    certificate: Path
    key: Path
    ca_pem: str


def host_server_name(host: str) -> str:
    """The DNS name a host gateway's certificate carries, which the front gateway checks."""
    if not _HOST_NAME.fullmatch(host):
        raise GatewayCaError(
            f"runtime host name {host[:70]!r} cannot name a host gateway: use lowercase"
            " letters, digits and inner hyphens (at most 63)"
        )
    return f"{host}.{HOST_DOMAIN}"


def front_gateway_files(settings: Settings, ca: GatewayCa | None = None) -> GatewayFiles:
    """The front gateway's client certificate, issued or renewed now if needed."""
    return _ensure(
        ca or gateway_ca_source(settings).load(),
        _leaf_dir(settings) / "front",
        common_name="front gateway",
        names=[x509.UniformResourceIdentifier(FRONT_IDENTITY)],
        client=True,
    )


def host_gateway_files(settings: Settings, ca: GatewayCa | None = None) -> GatewayFiles:
    """This host's gateway server certificate (its name and the addresses it is reached
    at), issued or renewed now if needed."""
    host = settings.runtime_host
    names: list[x509.GeneralName] = [x509.DNSName(host_server_name(host))]
    for address in (settings.host_gateway_host, urlsplit(settings.host_gateway_base_url).hostname):
        if address and (name := general_name(address)) not in names:
            names.append(name)
    return _ensure(
        ca or gateway_ca_source(settings).load(),
        _leaf_dir(settings) / f"host-{host}",
        common_name=f"host gateway {host}",
        names=names,
        client=False,
    )


def issue(
    ca: GatewayCa,
    *,
    common_name: str,
    names: list[x509.GeneralName],
    client: bool,
    not_before: datetime.datetime | None = None,
    days: float = LEAF_DAYS,
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """A new key and its certificate for one purpose: client or server authentication."""
    key = ec.generate_private_key(ec.SECP256R1())
    start = not_before or datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=5)
    usage = ExtendedKeyUsageOID.CLIENT_AUTH if client else ExtendedKeyUsageOID.SERVER_AUTH
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .issuer_name(ca.certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + datetime.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=True)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()),
            critical=False,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(ca.key, hashes.SHA256())
    )
    return cert, key


def write_pair(
    cert: x509.Certificate, key: ec.EllipticCurvePrivateKey, stem: Path
) -> tuple[Path, Path]:
    """Write ``<stem>.crt`` and ``<stem>.key`` (0600, replaced atomically)."""
    stem.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    cert_path, key_path = stem.with_suffix(".crt"), stem.with_suffix(".key")
    write_private_key(key_path, key)
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return cert_path, key_path


def general_name(name: str) -> x509.GeneralName:
    """An IP address or a DNS name, as a subject alternative name."""
    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        return x509.DNSName(name)


def _leaf_dir(settings: Settings) -> Path:
    return settings.data_path / "keys" / "gateway"


def _ensure(
    ca: GatewayCa, stem: Path, *, common_name: str, names: list[x509.GeneralName], client: bool
) -> GatewayFiles:
    cert_path, key_path = stem.with_suffix(".crt"), stem.with_suffix(".key")
    if not _current(ca, cert_path, key_path, names):
        cert, key = issue(ca, common_name=common_name, names=names, client=client)
        cert_path, key_path = write_pair(cert, key, stem)
    return GatewayFiles(cert_path, key_path, ca.certificate_pem())


def _current(ca: GatewayCa, cert_path: Path, key_path: Path, names: list[x509.GeneralName]) -> bool:
    """Whether the certificate on disk is the CA's, names exactly ``names``, and has more
    than ``RENEW_WITHIN`` left."""
    if not (cert_path.exists() and key_path.exists()):
        return False
    if key_path.stat().st_mode & 0o077:
        raise GatewayCaError(f"{key_path} is readable by others; chmod 600 it")
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        cert.verify_directly_issued_by(ca.certificate)
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (ValueError, TypeError, InvalidSignature, x509.ExtensionNotFound):
        return False
    left = cert.not_valid_after_utc - datetime.datetime.now(datetime.UTC)
    return set(san) == set(names) and left > RENEW_WITHIN

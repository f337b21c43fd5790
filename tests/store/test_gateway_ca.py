"""The gateway CA from its key source, and the gateways' certificates renewed at start."""

from __future__ import annotations

import datetime
import ipaddress
import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID

from schemas.settings import Settings
from store.gateway_ca import DirectoryCaSource, GatewayCaError, PemCaSource
from store.gateway_certs import (
    FRONT_IDENTITY,
    front_gateway_files,
    host_gateway_files,
    host_server_name,
    issue,
    write_pair,
)
from store.key_source import gateway_ca_source


def _pem(ca_dir: Path) -> tuple[str, str]:
    return (ca_dir / "ca.crt").read_text(), (ca_dir / "ca.key").read_text()


def test_the_ca_is_created_once_with_a_private_key_only_its_owner_reads(tmp_path: Path) -> None:
    source = DirectoryCaSource(tmp_path / "ca")
    first = source.load()
    assert stat.S_IMODE((tmp_path / "ca" / "ca.key").stat().st_mode) == 0o600
    again = DirectoryCaSource(tmp_path / "ca").load()
    assert again.certificate == first.certificate  # read back, not made again
    constraints = first.certificate.extensions.get_extension_for_class(x509.BasicConstraints)
    assert constraints.value.ca and constraints.critical


def test_a_ca_key_others_can_read_is_refused(tmp_path: Path) -> None:
    DirectoryCaSource(tmp_path / "ca").load()
    (tmp_path / "ca" / "ca.key").chmod(0o644)
    with pytest.raises(GatewayCaError, match="chmod 600"):
        DirectoryCaSource(tmp_path / "ca").load()


def test_every_host_reads_the_one_ca_the_environment_names(tmp_path: Path) -> None:
    DirectoryCaSource(tmp_path / "ca").load()
    cert, key = _pem(tmp_path / "ca")
    settings = Settings(data_dir=tmp_path / "data", gateway_ca_cert=cert, gateway_ca_key=key)
    source = gateway_ca_source(settings)
    assert isinstance(source, PemCaSource)
    assert source.load().certificate_pem() == cert
    assert not (tmp_path / "data" / "keys" / "gateway-ca").exists()  # nothing made locally
    mounted = Settings(data_dir=tmp_path / "data", gateway_ca_dir=tmp_path / "ca")
    assert gateway_ca_source(mounted).load().certificate_pem() == cert


def test_a_bad_ca_is_refused_with_a_reason_that_shows_no_key(tmp_path: Path) -> None:
    DirectoryCaSource(tmp_path / "ca").load()
    DirectoryCaSource(tmp_path / "other").load()
    cert, key = _pem(tmp_path / "ca")
    _, other_key = _pem(tmp_path / "other")
    with pytest.raises(GatewayCaError, match="go together"):
        gateway_ca_source(Settings(data_dir=tmp_path, gateway_ca_cert=cert))
    with pytest.raises(GatewayCaError, match="does not match its key") as mismatch:
        PemCaSource(cert, other_key).load()
    with pytest.raises(GatewayCaError, match="not a PEM") as garbage:
        PemCaSource(cert, key[:80]).load()
    for refused in (mismatch, garbage):
        assert "PRIVATE KEY" not in str(refused.value) and refused.value.__cause__ is None
    leaf, leaf_key = issue(
        PemCaSource(cert, key).load(), common_name="x", names=[x509.DNSName("x")], client=False
    )
    leaf_pem = leaf.public_bytes(serialization.Encoding.PEM).decode()
    key_pem = leaf_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    with pytest.raises(GatewayCaError, match="not a CA certificate"):
        PemCaSource(leaf_pem, key_pem).load()


def test_each_gateway_certificate_serves_one_purpose_and_names_its_gateway(
    tmp_path: Path,
) -> None:
    settings = Settings(
        data_dir=tmp_path / "data", runtime_host="host-7", host_gateway_host="127.0.0.3"
    )
    front = front_gateway_files(settings)
    host = host_gateway_files(settings)
    for files, usage, names in (
        (front, ExtendedKeyUsageOID.CLIENT_AUTH, {x509.UniformResourceIdentifier(FRONT_IDENTITY)}),
        (
            host,
            ExtendedKeyUsageOID.SERVER_AUTH,
            {
                x509.DNSName("host-7.host-gateway.mb.invalid"),
                x509.IPAddress(ipaddress.ip_address("127.0.0.3")),
            },
        ),
    ):
        cert = x509.load_pem_x509_certificate(files.certificate.read_bytes())
        assert list(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == [usage]
        assert set(cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value) == (
            names
        )
        assert stat.S_IMODE(files.key.stat().st_mode) == 0o600
        left = cert.not_valid_after_utc - datetime.datetime.now(datetime.UTC)
        assert datetime.timedelta(days=29) < left <= datetime.timedelta(days=30)


def test_certificates_are_renewed_at_start_when_due_or_from_another_ca(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    files = front_gateway_files(settings)
    unchanged = files.certificate.read_bytes()
    assert front_gateway_files(settings).certificate.read_bytes() == unchanged  # kept
    ca = gateway_ca_source(settings).load()
    names: list[x509.GeneralName] = [x509.UniformResourceIdentifier(FRONT_IDENTITY)]
    stem = files.certificate.with_suffix("")
    write_pair(*issue(ca, common_name="front gateway", names=names, client=True, days=9), stem)
    due = files.certificate.read_bytes()
    assert front_gateway_files(settings).certificate.read_bytes() != due  # 9 days left: renewed
    other = DirectoryCaSource(tmp_path / "other").load()
    write_pair(*issue(other, common_name="front gateway", names=names, client=True), stem)
    foreign = files.certificate.read_bytes()
    renewed = front_gateway_files(settings).certificate.read_bytes()
    assert renewed != foreign
    x509.load_pem_x509_certificate(renewed).verify_directly_issued_by(ca.certificate)


def test_a_gateway_key_others_can_read_is_refused(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    front_gateway_files(settings).key.chmod(0o640)
    with pytest.raises(GatewayCaError, match=r"front\.key is readable by others; chmod 600 it"):
        front_gateway_files(settings)


@pytest.mark.parametrize("name", ["Host_A", "", "a" * 64, "-a", "a.b", "h\nx"])
def test_a_host_name_no_certificate_can_carry_is_refused(name: str) -> None:
    with pytest.raises(GatewayCaError, match="cannot name a host gateway"):
        host_server_name(name)

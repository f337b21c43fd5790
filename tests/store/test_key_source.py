"""One key source for every host: the embedded directory generates keys on first start;
a mounted directory, the environment or a plug-in is only read; a host that would make
keys of its own beside registered hosts is refused before any key is written."""

from __future__ import annotations

import base64
import shutil
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import SecretStr

from schemas.settings import Settings
from store.aes_keys import AesKeyRing, KeyMaterialError
from store.gateway_ca import GatewayCa, GatewayCaError
from store.key_source import (
    DirectoryKeySource,
    KeySource,
    KeySourceError,
    check_environment_keys,
    check_key_source,
    key_source,
    refuse_keyless_join,
)
from store.keyring import EvidenceKeys, KeyRingError, PublicEvidenceKeys, SigningKeyRing, key_id
from tests.key_mounts import public_only_mount, tamper_evidence_keys

PAYLOAD = b"evidence payload"


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def _primary(tmp_path: Path) -> Settings:
    """The first host: the embedded default, keys generated into its data directory."""
    settings = Settings(data_dir=tmp_path / "primary")
    check_key_source(settings, evidence=True)
    return settings


def _public_only(primary: Settings, mount: Path) -> Path:
    return public_only_mount(primary.keys_path, mount)


def test_the_embedded_default_generates_every_key_once_in_the_data_directory(
    tmp_path: Path,
) -> None:
    settings = _primary(tmp_path)
    keys = tmp_path / "primary" / "keys"
    assert settings.keys_path == keys and settings.generates_keys
    assert {p.name for p in keys.iterdir()} >= {"master", "codec", "evidence", "gateway-ca"}
    before = _files(keys)
    check_key_source(settings, evidence=True)
    assert _files(keys) == before  # read again, nothing new


def test_a_host_pointed_at_the_key_source_has_the_primarys_keys_and_writes_none(
    tmp_path: Path,
) -> None:
    primary = _primary(tmp_path)
    mount = _public_only(primary, tmp_path / "mount")
    before = _files(mount)
    host = Settings(data_dir=tmp_path / "host-b", key_source_dir=mount)
    assert not host.generates_keys
    check_key_source(host, evidence=True)
    mine, theirs = key_source(host), key_source(primary)
    assert mine.master_ring().keys == theirs.master_ring().keys
    assert mine.codec_ring().current_id == theirs.codec_ring().current_id
    assert mine.gateway_ca().certificate_pem() == theirs.gateway_ca().certificate_pem()
    kid, signature = theirs.evidence_keys().sign(PAYLOAD)
    assert mine.evidence_keys().verify(kid, PAYLOAD, signature)
    with pytest.raises(KeyRingError, match="only verifies"):
        mine.evidence_keys().sign(PAYLOAD)  # least privilege: it cannot sign
    assert _files(mount) == before
    assert not (tmp_path / "host-b").exists()


@pytest.mark.parametrize("missing", ["codec", "master", "evidence", "gateway-ca"])
def test_a_key_source_missing_a_key_stops_the_start_and_generates_nothing(
    tmp_path: Path, missing: str
) -> None:
    mount = _public_only(_primary(tmp_path), tmp_path / "mount")
    shutil.rmtree(mount / missing)
    host = Settings(data_dir=tmp_path / "host-b", key_source_dir=mount)
    with pytest.raises((KeyMaterialError, GatewayCaError)) as refused:
        check_key_source(host, evidence=True)
    assert str(mount / missing) in str(refused.value)
    assert not (mount / missing).exists()


def test_a_tampered_public_key_verifies_nothing(tmp_path: Path) -> None:
    primary = _primary(tmp_path)
    kid, signature = key_source(primary).evidence_keys().sign(PAYLOAD)
    mount = _public_only(primary, tmp_path / "mount")
    host = Settings(data_dir=tmp_path / "host-b", key_source_dir=mount)
    assert key_source(host).evidence_keys().verify(kid, PAYLOAD, signature)
    tamper_evidence_keys(mount)
    assert not key_source(host).evidence_keys().verify(kid, PAYLOAD, signature)
    (mount / "evidence" / f"{kid}.pub").write_bytes(b"not a key")
    assert not key_source(host).evidence_keys().verify(kid, PAYLOAD, signature)


def _raw(private: Ed25519PrivateKey) -> str:
    public = private.public_key()
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode()


def test_public_keys_from_the_environment_verify_and_never_sign(tmp_path: Path) -> None:
    signer, stranger = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    host = Settings(
        data_dir=tmp_path / "host-b", evidence_public_keys=f"{_raw(signer)}, {_raw(stranger)}"
    )
    keys = key_source(host).evidence_keys()
    keys.check()
    kid = key_id(signer.public_key())
    assert keys.verify(kid, PAYLOAD, signer.sign(PAYLOAD))
    assert not keys.verify(kid, PAYLOAD, stranger.sign(PAYLOAD))
    assert not keys.verify("0" * 16, PAYLOAD, signer.sign(PAYLOAD))
    with pytest.raises(KeyRingError, match="only verify"):
        keys.sign(PAYLOAD)
    with pytest.raises(KeyRingError, match="no evidence public key"):
        PublicEvidenceKeys({}, "MB_EVIDENCE_PUBLIC_KEYS").check()
    assert not (tmp_path / "host-b").exists()


@pytest.mark.parametrize("bad", ["!!!", base64.b64encode(b"short").decode()])
def test_a_malformed_public_key_is_refused_without_echoing_it(tmp_path: Path, bad: str) -> None:
    host = Settings(
        data_dir=tmp_path, evidence_public_keys=f"{_raw(Ed25519PrivateKey.generate())},{bad}"
    )
    with pytest.raises(KeySourceError, match="entry 2 is not base64") as refused:
        check_environment_keys(host)
    assert bad not in str(refused.value)
    assert not (tmp_path / "keys").exists()


class MemoryKeySource:
    """Stands in for a KMS client (no KMS runs here): keys held in memory."""

    def __init__(self, primary: KeySource) -> None:
        self._master = primary.master_ring()
        self._codec = primary.codec_ring()
        self._evidence = primary.evidence_keys()
        self._ca = primary.gateway_ca()

    def master_ring(self) -> AesKeyRing:
        return self._master

    def codec_ring(self) -> AesKeyRing:
        return self._codec

    def evidence_keys(self) -> EvidenceKeys:
        return self._evidence

    def gateway_ca(self) -> GatewayCa:
        return self._ca


def memory_source(settings: Settings) -> KeySource:
    """The plug-in factory ``MB_KEY_SOURCE_PLUGIN`` names in the test below."""
    assert settings.key_source_dir is not None  # where this stand-in reads its keys from
    return MemoryKeySource(DirectoryKeySource(settings.key_source_dir, create=False))


def test_a_plugin_key_source_serves_every_key_and_the_environment_still_wins(
    tmp_path: Path,
) -> None:
    primary = _primary(tmp_path)
    plugin = "tests.store.test_key_source:memory_source"
    host = Settings(
        data_dir=tmp_path / "host-b", key_source_plugin=plugin, key_source_dir=primary.keys_path
    )
    check_key_source(host, evidence=True)
    assert key_source(host).codec_ring().keys == key_source(primary).codec_ring().keys
    override = SecretStr(base64.b64encode(bytes(range(32))).decode())
    env = host.model_copy(update={"codec_key": override})
    assert key_source(env).codec_ring().current == bytes(range(32))
    for spec in ("tests.no_such_module:f", f"{plugin}x"):
        with pytest.raises(KeySourceError, match="cannot be loaded"):
            key_source(host.model_copy(update={"key_source_plugin": spec}))


def test_a_keyless_host_beside_registered_hosts_is_refused_before_writing_a_key(
    tmp_path: Path,
) -> None:
    host = Settings(data_dir=tmp_path / "host-b", runtime_host="host-b")
    refuse_keyless_join(host, [])  # the first host of a platform makes its keys
    refuse_keyless_join(host, ["host-b"])  # its own earlier registration
    with pytest.raises(KeySourceError) as refused:
        refuse_keyless_join(host, ["host-a", "host-b"])
    message = str(refused.value)
    assert "'host-b' has no keys" in message and "host-a" in message
    assert "MB_KEY_SOURCE_DIR" in message and "no key was generated" in message
    assert not (tmp_path / "host-b").exists()
    mounted = _public_only(_primary(tmp_path), tmp_path / "mount")
    refuse_keyless_join(host.model_copy(update={"key_source_dir": mounted}), ["host-a"])
    ring = SigningKeyRing(tmp_path / "unused", create=False)
    with pytest.raises(KeyRingError, match="no evidence public keys"):
        ring.check()

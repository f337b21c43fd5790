"""Owner erasure keys: data keys wrapped with them die with them (crypto-shredding)."""

from __future__ import annotations

import multiprocessing
import os
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from store.aes_keys import AesKeyRing, KeyMaterialError
from store.envelope import NONCE_BYTES, DataKeyErased, DecryptionFailed, Envelope
from store.owner_keys import OwnerKeyErased, OwnerKeys

MASTER = bytes(range(32))


def _envelope(root: Path) -> Envelope:
    ring = AesKeyRing.of("master", MASTER)
    return Envelope(lambda: ring, OwnerKeys(root))


def test_an_owner_keyed_data_key_round_trips_and_stays_bound(tmp_path: Path) -> None:
    envelope = _envelope(tmp_path / "owners")
    data_key = envelope.new_data_key()
    kid, wrapped = envelope.wrap("alice", 1, data_key)
    assert envelope.unwrap("alice", 1, kid, wrapped) == data_key
    OwnerKeys(tmp_path / "owners").get_or_create("mallory")
    with pytest.raises(DecryptionFailed):
        envelope.unwrap("mallory", 1, kid, wrapped)
    with pytest.raises(DecryptionFailed):
        envelope.unwrap("alice", 2, kid, wrapped)


def test_the_master_key_alone_cannot_unwrap_an_owner_keyed_data_key(tmp_path: Path) -> None:
    envelope = _envelope(tmp_path / "owners")
    kid, wrapped = envelope.wrap("alice", 1, envelope.new_data_key())
    master_only = Envelope(lambda: AesKeyRing.of("master", MASTER))
    with pytest.raises(DecryptionFailed, match="needs owner keys"):
        master_only.unwrap("alice", 1, kid, wrapped)
    body = wrapped[1:]
    with pytest.raises(InvalidTag):  # not the v1 wrapping under another name
        AESGCM(MASTER).decrypt(body[:NONCE_BYTES], body[NONCE_BYTES:], None)


def test_shredding_an_owner_key_erases_only_that_owner(tmp_path: Path) -> None:
    envelope = _envelope(tmp_path / "owners")
    alice_key, bob_key = envelope.new_data_key(), envelope.new_data_key()
    kid, alice = envelope.wrap("alice", 1, alice_key)
    _, bob = envelope.wrap("bob", 1, bob_key)
    keys = OwnerKeys(tmp_path / "owners")
    assert keys.shred("alice") is True
    assert keys.shred("alice") is False  # idempotent
    with pytest.raises(DataKeyErased, match="erased"):
        envelope.unwrap("alice", 1, kid, alice)
    assert envelope.unwrap("bob", 1, kid, bob) == bob_key
    # a new key made later for the same owner does not bring the old data back
    keys.get_or_create("alice")
    with pytest.raises(DecryptionFailed):
        envelope.unwrap("alice", 1, kid, alice)


def test_legacy_master_only_data_keys_still_open(tmp_path: Path) -> None:
    legacy = Envelope(lambda: AesKeyRing.of("master", MASTER))
    data_key = legacy.new_data_key()
    kid, wrapped = legacy.wrap("alice", 1, data_key)
    assert _envelope(tmp_path / "owners").unwrap("alice", 1, kid, wrapped) == data_key


def test_key_files_are_private_and_unsafe_ones_are_refused(tmp_path: Path) -> None:
    keys = OwnerKeys(tmp_path / "owners")
    keys.get_or_create("alice")
    (path,) = (tmp_path / "owners").glob("*.key")
    assert "alice" not in path.name
    assert oct(path.stat().st_mode & 0o777) == oct(0o600)
    assert oct((tmp_path / "owners").stat().st_mode & 0o777) == oct(0o700)
    path.chmod(0o644)
    with pytest.raises(KeyMaterialError, match="readable or writable by others"):
        keys.get("alice")
    with pytest.raises(OwnerKeyErased):
        keys.get("nobody")


def _first_key(root: str) -> bytes:
    return OwnerKeys(Path(root)).get_or_create("alice")


def test_processes_creating_the_same_owner_key_agree(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(4) as pool:
        keys = pool.map(_first_key, [str(tmp_path / "owners")] * 8)
    assert len(set(keys)) == 1
    assert [p.name for p in (tmp_path / "owners").iterdir() if p.name.startswith(".")] == []
    assert os.listdir(tmp_path / "owners") == [p.name for p in (tmp_path / "owners").glob("*.key")]

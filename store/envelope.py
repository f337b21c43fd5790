"""Envelope encryption of secrets with AES-256-GCM.

A master key (from the ring) wraps one data key per owner; the data key
encrypts that owner's secret values. Every ciphertext carries a format byte,
the version of the data key it was made with and a fresh 96-bit nonce, and its
associated data binds it to (owner, app, name, version, data key version): a
ciphertext copied into another row, or under another owner, fails to
decrypt. Wrapped data keys are bound the same way to (owner, data key version,
master key id). No exception raised here carries key or plaintext bytes.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Callable
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from store.aes_keys import KEY_BYTES, AesKeyRing

FORMAT = 1
NONCE_BYTES = 12
_HEADER = struct.Struct(">BI")  # format, data key version
_TAG_BYTES = 16


class DecryptionFailed(Exception):
    """A ciphertext did not authenticate (tampered, moved, or the wrong key)."""


class UnknownMasterKey(Exception):
    """A data key is wrapped by a master key this process does not hold."""


@dataclass(frozen=True)
class SecretRef:
    """Where a secret value belongs: what its associated data binds it to."""

    owner_id: str
    app_id: str
    name: str
    version: int
    data_key_version: int

    def associated_data(self) -> bytes:
        """The AAD of this value's ciphertext."""
        parts = [self.owner_id, self.app_id, self.name, str(self.version)]
        return (
            b"mb-secret/v1\0"
            + "\0".join(parts).encode()
            + b"\0"
            + str(self.data_key_version).encode()
        )


def _wrap_aad(owner_id: str, version: int, master_key_id: str) -> bytes:
    return f"mb-data-key/v1\0{owner_id}\0{version}\0{master_key_id}".encode()


class Envelope:
    """Wrap data keys with master keys, and seal/open secret values with data keys."""

    def __init__(self, load_ring: Callable[[], AesKeyRing]) -> None:
        self._load_ring = load_ring
        self._ring = load_ring()

    @property
    def current_master_id(self) -> str:
        """The master key id that wraps new (and rewrapped) data keys."""
        return self._ring.current_id

    def reload(self) -> AesKeyRing:
        """Re-read the ring (after `mb keys rotate` added a key)."""
        self._ring = self._load_ring()
        return self._ring

    def _master(self, kid: str) -> AESGCM:
        key = self._ring.keys.get(kid)
        if key is None:
            key = self.reload().keys.get(kid)
        if key is None:
            raise UnknownMasterKey(f"master key {kid} is not in the key ring")
        return AESGCM(key)

    @staticmethod
    def new_data_key() -> bytes:
        """A fresh random data key."""
        return AESGCM.generate_key(bit_length=8 * KEY_BYTES)

    def wrap(
        self, owner_id: str, version: int, data_key: bytes, master_key_id: str | None = None
    ) -> tuple[str, bytes]:
        """(master key id, nonce + wrapped key) under the current (or given) master key."""
        kid = master_key_id or self._ring.current_id
        nonce = os.urandom(NONCE_BYTES)
        wrapped = self._master(kid).encrypt(nonce, data_key, _wrap_aad(owner_id, version, kid))
        return kid, nonce + wrapped

    def unwrap(self, owner_id: str, version: int, master_key_id: str, blob: bytes) -> bytes:
        """The data key; DecryptionFailed if the blob is not this owner's key version."""
        aead = self._master(master_key_id)
        try:
            key = aead.decrypt(
                blob[:NONCE_BYTES], blob[NONCE_BYTES:], _wrap_aad(owner_id, version, master_key_id)
            )
        except InvalidTag:
            raise DecryptionFailed(
                f"data key v{version} of {owner_id} does not authenticate"
            ) from None
        if len(key) != KEY_BYTES:
            raise DecryptionFailed(f"data key v{version} of {owner_id} is malformed")
        return key

    @staticmethod
    def seal(data_key: bytes, ref: SecretRef, plaintext: bytes) -> bytes:
        """format | data key version | nonce | AES-256-GCM(ciphertext + tag)."""
        nonce = os.urandom(NONCE_BYTES)
        header = _HEADER.pack(FORMAT, ref.data_key_version)
        return header + nonce + AESGCM(data_key).encrypt(nonce, plaintext, ref.associated_data())

    @staticmethod
    def open(data_key: bytes, ref: SecretRef, blob: bytes) -> bytes:
        """The plaintext; DecryptionFailed for anything that does not authenticate."""
        start = _HEADER.size + NONCE_BYTES
        if len(blob) < start + _TAG_BYTES:
            raise DecryptionFailed(f"secret {ref.app_id}/{ref.name} v{ref.version}: truncated")
        fmt, dk_version = _HEADER.unpack_from(blob)
        if fmt != FORMAT or dk_version != ref.data_key_version:
            raise DecryptionFailed(
                f"secret {ref.app_id}/{ref.name} v{ref.version}: unexpected format or key version"
            )
        try:
            return AESGCM(data_key).decrypt(
                blob[_HEADER.size : start], blob[start:], ref.associated_data()
            )
        except InvalidTag:
            raise DecryptionFailed(
                f"secret {ref.app_id}/{ref.name} v{ref.version} does not authenticate"
            ) from None

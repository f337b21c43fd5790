"""Envelope encryption of secrets with AES-256-GCM.

A master key (from the ring) wraps one data key per owner; the data key
encrypts that owner's secret values. Every ciphertext carries a format byte,
the version of the data key it was made with and a fresh 96-bit nonce, and its
associated data binds it to (owner, app, name, version, data key version): a
ciphertext copied into another row, or under another owner, fails to
decrypt. Wrapped data keys are bound the same way to (owner, data key version,
master key id). No exception raised here carries key or plaintext bytes.

With an owner key store, a data key is wrapped under HKDF(master key || the
owner's erasure key) instead (format 2): deleting the erasure key, which never
enters the database, crypto-shreds the owner's data in every backup too. Data
keys wrapped before (format 1, master key only) still open, and the master key
rotation rewraps them into format 2.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Callable
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from store.aes_keys import KEY_BYTES, AesKeyRing
from store.owner_keys import OwnerKeyErased, OwnerKeys

FORMAT = 1
NONCE_BYTES = 12
_HEADER = struct.Struct(">BI")  # format, data key version
_TAG_BYTES = 16


class DecryptionFailed(Exception):
    """A ciphertext did not authenticate (tampered, moved, or the wrong key)."""


class DataKeyErased(DecryptionFailed):
    """The owner's erasure key was shredded: their data keys are gone for good."""


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


_OWNER_WRAP = b"\x02"  # format 2: wrapped under HKDF(master key || owner's erasure key)
LEGACY_WRAPPED_BYTES = NONCE_BYTES + KEY_BYTES + _TAG_BYTES


def _owner_kek(master: bytes, owner_key: bytes, aad: bytes) -> AESGCM:
    kek = HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=b"owner/" + aad)
    return AESGCM(kek.derive(master + owner_key))


class Envelope:
    """Wrap data keys with master keys, and seal/open secret values with data keys."""

    def __init__(
        self, load_ring: Callable[[], AesKeyRing], owner_keys: OwnerKeys | None = None
    ) -> None:
        self._load_ring = load_ring
        self._ring = load_ring()
        self._owner_keys = owner_keys

    @property
    def current_master_id(self) -> str:
        """The master key id that wraps new (and rewrapped) data keys."""
        return self._ring.current_id

    @property
    def owner_keyed(self) -> bool:
        """Whether data keys are wrapped with the owners' erasure keys (format 2)."""
        return self._owner_keys is not None

    def reload(self) -> AesKeyRing:
        """Re-read the ring (after `mb keys rotate` added a key)."""
        self._ring = self._load_ring()
        return self._ring

    def _master_key(self, kid: str) -> bytes:
        key = self._ring.keys.get(kid)
        if key is None:
            key = self.reload().keys.get(kid)
        if key is None:
            raise UnknownMasterKey(f"master key {kid} is not in the key ring")
        return key

    def _master(self, kid: str) -> AESGCM:
        return AESGCM(self._master_key(kid))

    def _owner_key(self, owner_id: str, *, create: bool) -> bytes:
        assert self._owner_keys is not None
        try:
            if create:
                return self._owner_keys.get_or_create(owner_id)
            return self._owner_keys.get(owner_id)
        except OwnerKeyErased:
            raise DataKeyErased(f"the data keys of {owner_id} were erased") from None

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
        aad = _wrap_aad(owner_id, version, kid)
        if self._owner_keys is None:
            return kid, nonce + self._master(kid).encrypt(nonce, data_key, aad)
        owner_key = self._owner_key(owner_id, create=True)
        aead = _owner_kek(self._master_key(kid), owner_key, aad)
        return kid, _OWNER_WRAP + nonce + aead.encrypt(nonce, data_key, aad)

    def unwrap(self, owner_id: str, version: int, master_key_id: str, blob: bytes) -> bytes:
        """The data key; DecryptionFailed if the blob is not this owner's key version,
        DataKeyErased if the owner's erasure key was shredded."""
        aad = _wrap_aad(owner_id, version, master_key_id)
        if len(blob) == LEGACY_WRAPPED_BYTES:
            aead = self._master(master_key_id)
        elif len(blob) == 1 + LEGACY_WRAPPED_BYTES and blob[:1] == _OWNER_WRAP:
            if self._owner_keys is None:
                raise DecryptionFailed(f"data key v{version} of {owner_id} needs owner keys")
            owner_key = self._owner_key(owner_id, create=False)
            aead = _owner_kek(self._master_key(master_key_id), owner_key, aad)
            blob = blob[1:]
        else:
            raise DecryptionFailed(f"data key v{version} of {owner_id} is malformed")
        try:
            key = aead.decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], aad)
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

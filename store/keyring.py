"""Ed25519 keys for QA evidence: a ring that signs, or public keys that only verify.

Private keys are files readable only by their owner (0600), created on first
use in the embedded key directory (never in a mounted key source); every
public key ever used stays in the ring so old evidence still verifies after a
new key becomes current. A host that only starts releases needs the public
keys alone (``<kid>.pub`` files, or ``MB_EVIDENCE_PUBLIC_KEYS``). A key id is
the first 16 hex digits of the SHA-256 of the raw public key.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

_CURRENT = "current"


class KeyRingError(RuntimeError):
    """The key ring is unusable (e.g. a key file with unsafe permissions)."""


def key_id(public: Ed25519PublicKey) -> str:
    """The id of a public key."""
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


class EvidenceKeys(Protocol):
    """What signs and verifies evidence: a ring with its signing key, or public keys only."""

    def check(self) -> None:
        """Raise KeyRingError, saying what is missing, unless the keys can verify."""
        ...

    def can_sign(self) -> bool:
        """Whether a signing key is held (a host that only starts releases has none)."""
        ...

    def sign(self, payload: bytes) -> tuple[str, bytes]:
        """(key id, signature) of ``payload``; KeyRingError where no signing key is held."""
        ...

    def verify(self, kid: str, payload: bytes, signature: bytes) -> bool:
        """Whether ``signature`` is key ``kid`` signing ``payload``."""
        ...


def _verified(public: Ed25519PublicKey, payload: bytes, signature: bytes) -> bool:
    try:
        public.verify(signature, payload)
    except InvalidSignature:
        return False
    return True


class PublicEvidenceKeys:
    """Public keys only (``MB_EVIDENCE_PUBLIC_KEYS``): they verify, they never sign."""

    def __init__(self, keys: Mapping[str, Ed25519PublicKey], where: str) -> None:
        self._keys = dict(keys)
        self._where = where

    def check(self) -> None:
        """Refuse an empty set."""
        if not self._keys:
            raise KeyRingError(f"{self._where} holds no evidence public key")

    def can_sign(self) -> bool:
        """Never: public keys only."""
        return False

    def sign(self, payload: bytes) -> tuple[str, bytes]:
        """Refused: this host holds no signing key."""
        raise KeyRingError(
            f"evidence keys from {self._where} only verify; evidence is signed on a host"
            " whose key source holds the signing key"
        )

    def verify(self, kid: str, payload: bytes, signature: bytes) -> bool:
        """Whether ``signature`` is key ``kid`` signing ``payload``."""
        public = self._keys.get(kid)
        return public is not None and _verified(public, payload, signature)


class SigningKeyRing:
    """Sign with the current key; verify with any key the ring has held.

    ``create=False`` (a mounted key source) never writes: the ring may then hold
    only public keys, and verifies without being able to sign.
    """

    def __init__(self, root: Path, *, create: bool = True) -> None:
        self.root = root
        self.create = create

    def check(self) -> None:
        """Create the first key where allowed; else require at least one public key."""
        if self.create:
            self.current()
        elif not self.root.is_dir() or not any(self.root.glob("*.pub")):
            raise KeyRingError(f"no evidence public keys (<kid>.pub) in {self.root}")

    def can_sign(self) -> bool:
        """Whether the current key's private half is here (or may be created)."""
        marker = self.root / _CURRENT
        if not marker.exists():
            return self.create
        return (self.root / f"{marker.read_text().strip()}.key").exists()

    def current(self) -> str:
        """The id of the signing key, creating the first one if there is none (and allowed)."""
        marker = self.root / _CURRENT
        if marker.exists():
            return marker.read_text().strip()
        if not self.create:
            raise KeyRingError(f"no evidence signing key in {self.root} (it only verifies)")
        return self.rotate()

    def rotate(self) -> str:
        """Create a new key and make it current (older keys keep verifying)."""
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        private = Ed25519PrivateKey.generate()
        kid = key_id(private.public_key())
        pem = private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        fd = os.open(self.root / f"{kid}.key", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(pem)
        (self.root / f"{kid}.pub").write_bytes(
            private.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )
        tmp = self.root / f".{_CURRENT}.{os.getpid()}"
        tmp.write_text(kid)
        tmp.replace(self.root / _CURRENT)
        return kid

    def sign(self, payload: bytes) -> tuple[str, bytes]:
        """(key id, signature) of ``payload`` with the current key."""
        kid = self.current()
        path = self.root / f"{kid}.key"
        if not path.exists():
            raise KeyRingError(f"no evidence signing key in {self.root} (it only verifies)")
        if path.stat().st_mode & 0o077:
            raise KeyRingError(f"{path} is readable by others; chmod 600 it")
        private = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(private, Ed25519PrivateKey):
            raise KeyRingError(f"{path} is not an Ed25519 key")
        return kid, private.sign(payload)

    def verify(self, kid: str, payload: bytes, signature: bytes) -> bool:
        """Whether ``signature`` is the ring's key ``kid`` signing ``payload``."""
        if not kid.isalnum():
            return False
        path = self.root / f"{kid}.pub"
        if not path.exists():
            return False
        try:
            public = serialization.load_pem_public_key(path.read_bytes())
        except ValueError:
            return False
        if not isinstance(public, Ed25519PublicKey) or key_id(public) != kid:
            return False
        return _verified(public, payload, signature)

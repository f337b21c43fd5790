"""Ed25519 signing keys for QA evidence, kept in the data directory.

Private keys are files readable only by their owner (0600), created on first
use; every public key ever used stays in the ring so old evidence still
verifies after a new key becomes current. A key id is the first 16 hex digits
of the SHA-256 of the raw public key.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

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


class SigningKeyRing:
    """Sign with the current key; verify with any key the ring has held."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def current(self) -> str:
        """The id of the signing key, creating the first one if there is none."""
        marker = self.root / _CURRENT
        if marker.exists():
            return marker.read_text().strip()
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
        public = serialization.load_pem_public_key(path.read_bytes())
        if not isinstance(public, Ed25519PublicKey) or key_id(public) != kid:
            return False
        try:
            public.verify(signature, payload)
        except InvalidSignature:
            return False
        return True

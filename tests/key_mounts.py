"""A runtime host's key mount in tests: a copy of the primary's key directory without the
evidence signing key (what a host that only verifies evidence is given)."""

from __future__ import annotations

import shutil
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey


def public_only_mount(keys: Path, mount: Path) -> Path:
    """Copy ``keys`` to ``mount``, leaving out the evidence private keys; returns ``mount``."""
    shutil.copytree(keys, mount)
    for private in (mount / "evidence").glob("*.key"):
        private.unlink()
    (mount / "evidence" / "current").unlink()
    return mount


def tamper_evidence_keys(mount: Path) -> None:
    """Replace every evidence public key in ``mount`` with another key (same file names)."""
    for public in (mount / "evidence").glob("*.pub"):
        other = Ed25519PrivateKey.generate().public_key()
        public.write_bytes(
            other.public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )

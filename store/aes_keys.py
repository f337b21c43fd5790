"""AES-256 key rings: master keys (they wrap the secrets' data keys) and payload keys.

A ring maps key ids to 32-byte keys and names the current one; older keys stay
so that what they protected can still be read until it is re-encrypted. Keys
come from the environment (base64 of 32 random bytes: the current one and a
comma-separated list of previous ones) or, on the embedded default, from
files generated once under ``<data dir>/keys/<purpose>/`` (directory 0700,
files 0600; anything more open is refused). Key material never appears in an
error message.
"""

from __future__ import annotations

import base64
import binascii
import fcntl
import hashlib
import os
import secrets
import stat
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import SecretStr

KEY_BYTES = 32
_CURRENT = "current"


class KeyMaterialError(ValueError):
    """A key is missing, malformed or stored unsafely; the message says which, never the key."""


def key_id_for(key: bytes, purpose: str) -> str:
    """A key's public id: 16 hex digits of a hash of the key and its purpose."""
    return hashlib.sha256(b"mb-key-id\0" + purpose.encode() + b"\0" + key).hexdigest()[:16]


def decode_key(text: str, source: str) -> bytes:
    """Decode base64 of exactly 32 bytes; ``source`` names where it came from."""
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise KeyMaterialError(f"{source} is not valid base64 (the value is not shown)") from None
    if len(raw) != KEY_BYTES:
        raise KeyMaterialError(
            f"{source} must be base64 of {KEY_BYTES} random bytes; "
            f"it decodes to {len(raw)} bytes (the value is not shown)"
        )
    return raw


def encode_key(key: bytes) -> str:
    """The base64 text form of a key (what the environment variables hold)."""
    return base64.b64encode(key).decode()


@dataclass(frozen=True)
class AesKeyRing:
    """Keys by id, and the id of the one that encrypts new data."""

    purpose: str
    keys: Mapping[str, bytes] = field(repr=False)
    current_id: str

    def __post_init__(self) -> None:
        if self.current_id not in self.keys:
            raise KeyMaterialError(f"{self.purpose} key ring: the current key is missing")

    @property
    def current(self) -> bytes:
        """The current key's bytes."""
        return self.keys[self.current_id]

    @classmethod
    def of(cls, purpose: str, current: bytes, previous: list[bytes] | None = None) -> AesKeyRing:
        """A ring from raw keys (ids derived from the keys)."""
        keys = {key_id_for(k, purpose): k for k in [*(previous or []), current]}
        return cls(purpose=purpose, keys=keys, current_id=key_id_for(current, purpose))


class KeyDirectory:
    """A ring kept as files: ``<kid>.key`` (base64) and a ``current`` marker."""

    def __init__(self, root: Path, purpose: str) -> None:
        self.root = root
        self.purpose = purpose

    @contextmanager
    def _locked(self) -> Iterator[None]:
        """Serialise key creation across processes (workers and API start together)."""
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(self.root / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def load(self, *, create: bool = True) -> AesKeyRing:
        """Read every key; creates the first one when the directory is empty and ``create``."""
        marker = self.root / _CURRENT
        if not marker.exists():
            if not create:
                raise KeyMaterialError(f"no {self.purpose} keys in {self.root}")
            with self._locked():
                if not marker.exists():
                    self._add_unlocked()
        self._check_mode(self.root, 0o700)
        keys: dict[str, bytes] = {}
        for path in sorted(self.root.glob("*.key")):
            self._check_mode(path, 0o600)
            key = decode_key(path.read_text(), f"key file {path}")
            kid = key_id_for(key, self.purpose)
            if kid != path.stem:
                raise KeyMaterialError(f"key file {path} does not hold key {path.stem}")
            keys[kid] = key
        return AesKeyRing(self.purpose, keys, marker.read_text().strip())

    def add(self) -> str:
        """Generate a new key and make it current; returns its id."""
        with self._locked():
            return self._add_unlocked()

    def _add_unlocked(self) -> str:
        os.chmod(self.root, 0o700)
        key = secrets.token_bytes(KEY_BYTES)
        kid = key_id_for(key, self.purpose)
        fd = os.open(self.root / f"{kid}.key", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(encode_key(key) + "\n")
            out.flush()
            os.fsync(out.fileno())
        tmp = self.root / f".{_CURRENT}.{kid}"
        tmp.write_text(kid + "\n")
        os.replace(tmp, self.root / _CURRENT)
        return kid

    def remove(self, kid: str) -> None:
        """Delete a key that nothing uses any more (never the current one)."""
        if (self.root / _CURRENT).read_text().strip() == kid:
            raise KeyMaterialError(f"{self.purpose} key {kid} is current and cannot be removed")
        (self.root / f"{kid}.key").unlink(missing_ok=True)

    @staticmethod
    def _check_mode(path: Path, most: int) -> None:
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & ~most & 0o077:
            raise KeyMaterialError(
                f"{path} is readable or writable by others (mode {mode:o}); "
                f"run: chmod {most:o} {path}"
            )


def load_ring(
    purpose: str,
    *,
    current: SecretStr | None,
    previous: SecretStr | None,
    env_name: str,
    fallback: Callable[[], AesKeyRing],
) -> AesKeyRing:
    """The ring from the environment when ``current`` is set, else ``fallback()``."""
    if current is None:
        if previous is not None:
            raise KeyMaterialError(f"{env_name}_PREVIOUS is set but {env_name} is not")
        return fallback()
    key = decode_key(current.get_secret_value(), env_name)
    older: list[bytes] = []
    if previous is not None:
        for i, text in enumerate(previous.get_secret_value().split(",")):
            if text.strip():
                older.append(decode_key(text, f"{env_name}_PREVIOUS (entry {i + 1})"))
    return AesKeyRing.of(purpose, key, older)

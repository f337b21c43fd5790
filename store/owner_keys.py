"""Per-owner erasure keys, kept outside the database so that erasing one crypto-shreds.

Every owner's data key is wrapped under a key derived from a master key AND the
owner's erasure key. The wrapped data key lives in PostgreSQL (and so in every
backup of it); the erasure key lives only here, as a file under the key
directory. Deleting the file (GDPR erasure) makes every copy of that owner's
ciphertext undecryptable: the database, its base backups, archived WAL.

The key directory is the local stand-in for a KMS: back it up separately from
the database, with a retention no longer than erasure allows.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import stat
from pathlib import Path

from store.aes_keys import KEY_BYTES, KeyMaterialError, decode_key, encode_key
from store.durable_files import fsync_dir


class OwnerKeyErased(Exception):
    """The owner's erasure key is gone: their data keys can never be unwrapped again."""


class OwnerKeys:
    """One random 256-bit key per owner: ``<root>/<sha256(owner)>.key`` (0600)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, owner_id: str) -> Path:
        digest = hashlib.sha256(b"mb-owner-key\0" + owner_id.encode()).hexdigest()
        return self.root / f"{digest[:40]}.key"

    def get(self, owner_id: str) -> bytes:
        """The owner's key; OwnerKeyErased when it was shredded (or never existed)."""
        path = self._path(owner_id)
        try:
            mode = stat.S_IMODE(path.stat().st_mode)
        except FileNotFoundError:
            raise OwnerKeyErased(f"the erasure key of {owner_id} does not exist") from None
        if mode & 0o077:
            raise KeyMaterialError(f"{path} is readable or writable by others (mode {mode:o})")
        return decode_key(path.read_text(), f"owner key file {path}")

    def get_or_create(self, owner_id: str) -> bytes:
        """The owner's key, made (durably, before anything is wrapped with it) if missing."""
        path = self._path(owner_id)
        if path.exists():
            return self.get(owner_id)
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        key = secrets.token_bytes(KEY_BYTES)
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(encode_key(key) + "\n")
            out.flush()
            os.fsync(out.fileno())
        try:
            os.link(tmp, path)  # fails if a concurrent writer won: use theirs
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
        fsync_dir(self.root)
        return self.get(owner_id)

    def exists(self, owner_id: str) -> bool:
        """Whether the owner still has a key (False after shredding)."""
        return self._path(owner_id).exists()

    def shred(self, owner_id: str) -> bool:
        """Delete the owner's key for good; True if there was one. Idempotent."""
        path = self._path(owner_id)
        try:
            size = path.stat().st_size
            with path.open("r+b") as out:  # best effort: overwrite before unlinking
                out.write(b"\0" * size)
                out.flush()
                os.fsync(out.fileno())
            path.unlink()
        except FileNotFoundError:
            return False
        fsync_dir(self.root)
        return True

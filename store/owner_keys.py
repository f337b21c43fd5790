"""Per-owner erasure keys, kept outside the database so that erasing one crypto-shreds.

Every owner's data key is wrapped under a key derived from a master key AND the
owner's erasure key. The wrapped data key lives in PostgreSQL (and so in every
backup of it); the erasure key lives only here, as a file under the key
directory. Deleting the file (GDPR erasure) makes every copy of that owner's
ciphertext undecryptable: the database, its base backups, archived WAL.

Every shredded key is also written down, by its file name only, in an erasure
ledger (``<root>/erased``, and copies such as ``<backup dir>/erasures``) before the
file is deleted: restoring an older key escrow skips the keys the ledgers name,
so an erasure stays an erasure after the key directory is rebuilt.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import stat
from collections.abc import Iterable, Sequence
from pathlib import Path

from store.aes_keys import KEY_BYTES, KeyMaterialError, decode_key, encode_key
from store.durable_files import fsync_dir

LEDGER = "erased"
KEY_NAME = re.compile(r"[0-9a-f]{40}")


class OwnerKeyErased(Exception):
    """The owner's erasure key is gone: their data keys can never be unwrapped again."""


class OwnerKeys:
    """One random 256-bit key per owner: ``<root>/<sha256(owner)>.key`` (0600).

    ``ledgers`` are further files that record each shredded key's name (the
    directory's own ``erased`` file always does)."""

    def __init__(self, root: Path, ledgers: Sequence[Path] = ()) -> None:
        self.root = root
        self.ledgers = [root / LEDGER, *ledgers]

    @staticmethod
    def key_name(owner_id: str) -> str:
        """The name of an owner's key (file stem): pseudonymous, never the owner id."""
        return hashlib.sha256(b"mb-owner-key\0" + owner_id.encode()).hexdigest()[:40]

    def _path(self, owner_id: str) -> Path:
        return self.root / f"{self.key_name(owner_id)}.key"

    def names(self) -> list[str]:
        """The names of every key present."""
        if not self.root.is_dir():
            return []
        return sorted(p.stem for p in self.root.glob("*.key") if KEY_NAME.fullmatch(p.stem))

    def get_named(self, name: str) -> bytes:
        """A key by its name (for the escrow); OwnerKeyErased if it is not there."""
        if not KEY_NAME.fullmatch(name):
            raise KeyMaterialError(f"not an owner key name: {name!r}")
        path = self.root / f"{name}.key"
        try:
            mode = stat.S_IMODE(path.stat().st_mode)
        except FileNotFoundError:
            raise OwnerKeyErased(f"owner key {name} does not exist") from None
        if mode & 0o077:
            raise KeyMaterialError(f"{path} is readable or writable by others (mode {mode:o})")
        return decode_key(path.read_text(), f"owner key file {path}")

    def put_named(self, name: str, key: bytes) -> bool:
        """Restore a key by name (never over an existing one); False if it was there."""
        if not KEY_NAME.fullmatch(name):
            raise KeyMaterialError(f"not an owner key name: {name!r}")
        path = self.root / f"{name}.key"
        if path.exists():
            return False
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        _write_new(path, key)
        fsync_dir(self.root)
        return True

    def erased(self) -> set[str]:
        """Names of every key a ledger records as shredded."""
        names: set[str] = set()
        for ledger in self.ledgers:
            if ledger.is_file():
                names |= {n for n in ledger.read_text().split() if KEY_NAME.fullmatch(n)}
        return names

    def record_erased(self, names: Iterable[str]) -> None:
        """Add names to every ledger (durably), before any key file goes."""
        wanted = sorted({n for n in names if KEY_NAME.fullmatch(n)})
        for ledger in self.ledgers:
            known = set(ledger.read_text().split()) if ledger.is_file() else set()
            new = [n for n in wanted if n not in known]
            if not new:
                continue
            ledger.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd = os.open(ledger, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            with os.fdopen(fd, "a") as out:
                out.write("".join(f"{n}\n" for n in new))
                out.flush()
                os.fsync(out.fileno())
            fsync_dir(ledger.parent)

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
        _write_new(path, secrets.token_bytes(KEY_BYTES))
        fsync_dir(self.root)
        return self.get(owner_id)

    def exists(self, owner_id: str) -> bool:
        """Whether the owner still has a key (False after shredding)."""
        return self._path(owner_id).exists()

    def shred(self, owner_id: str) -> bool:
        """Delete the owner's key for good (recorded in the ledgers first, so no escrow
        brings it back); True if there was one. Idempotent."""
        path = self._path(owner_id)
        self.record_erased([self.key_name(owner_id)])
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


def _write_new(path: Path, key: bytes) -> None:
    """Write a key file (0600, fsynced) unless one exists: a concurrent writer wins."""
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

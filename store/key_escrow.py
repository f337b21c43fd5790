"""Key escrow: the whole key ring as one encrypted file, and back.

An escrow is an `age <https://age-encryption.org/v1>`_ file (made with ``pyrage``,
readable by any age implementation: ``age -d -i identity.txt keys.age``). Its
plaintext is a JSON document, ``schemas.escrow.KeyEscrow`` (format
``mb-key-escrow/1``): the master key ring (keys that wrap the secrets' data keys),
the payload key ring (Temporal's codec), the evidence signing keys (PKCS#8 PEM),
the owners' erasure keys by their pseudonymous file names, and the erasure ledger
(the names of keys shredded before the escrow was made).

It is encrypted either to age X25519 recipients (``age1...``: the operator keeps
the identity offline, and a worker that writes escrows cannot read them), or under
a passphrase (age's scrypt recipient). age authenticates the header with an HMAC
and every 64 KiB chunk of the payload with ChaCha20-Poly1305: an altered,
truncated or re-addressed file does not decrypt. ``import_escrow`` checks that
and every key (its id must be the hash of its bytes) before it writes anything,
writes key files (0600, in 0700 directories) only where none exists, and skips
every owner key that an erasure ledger (the escrow's own, the key directory's or
the backup directory's) names: an older escrow never brings back an erased key.

Key material is never printed: the document's keys are ``SecretStr`` and errors
name files and key ids only.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pyrage
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import SecretStr, ValidationError

from schemas.escrow import AesRingEscrow, EscrowImport, KeyEscrow, SigningRingEscrow
from schemas.settings import Settings
from store.aes_keys import (
    AesKeyRing,
    KeyDirectory,
    KeyMaterialError,
    decode_key,
    encode_key,
    key_id_for,
)
from store.durable_files import fsync_dir
from store.key_rings import CODEC, MASTER, codec_key_ring, master_key_ring, owner_keys
from store.keyring import key_id
from store.owner_keys import OwnerKeys

MIN_PASSPHRASE_CHARS = 12
_CURRENT = "current"


class EscrowError(ValueError):
    """An escrow cannot be written or read; the message says why, never a key."""


@dataclass(frozen=True)
class EscrowLock:
    """How an escrow is sealed and opened: age recipients (``age1...``) to write and
    identities (``AGE-SECRET-KEY-1...``) to read, or one passphrase for both."""

    recipients: tuple[str, ...] = ()
    identities: tuple[SecretStr, ...] = ()
    passphrase: SecretStr | None = None

    def __post_init__(self) -> None:
        if self.passphrase is not None and (self.recipients or self.identities):
            raise EscrowError("use either a passphrase or age recipients/identities, not both")

    @classmethod
    def from_passphrase(cls, text: str) -> EscrowLock:
        """A passphrase lock; refuses a short one."""
        if len(text) < MIN_PASSPHRASE_CHARS:
            raise EscrowError(
                f"the passphrase must have at least {MIN_PASSPHRASE_CHARS} characters"
            )
        return cls(passphrase=SecretStr(text))

    @classmethod
    def from_identity_file(cls, path: Path) -> EscrowLock:
        """The identities of an age identity file (``#`` comments and blank lines ignored)."""
        try:
            text = path.read_text()
        except OSError as err:
            raise EscrowError(f"cannot read the identity file {path}: {err.strerror}") from None
        lines = [ln.strip() for ln in text.splitlines()]
        found = tuple(SecretStr(ln) for ln in lines if ln and not ln.startswith("#"))
        if not found:
            raise EscrowError(f"{path} holds no age identity (AGE-SECRET-KEY-1...)")
        return cls(identities=found)


def _recipients(lock: EscrowLock) -> list[object]:
    parsed = []
    for text in lock.recipients:
        try:
            parsed.append(pyrage.x25519.Recipient.from_str(text.strip()))
        except pyrage.RecipientError:
            raise EscrowError(f"not an age X25519 recipient: {text.strip()[:80]!r}") from None
    return parsed


def _identities(lock: EscrowLock) -> list[object]:
    parsed = []
    for i, secret in enumerate(lock.identities):
        try:
            parsed.append(pyrage.x25519.Identity.from_str(secret.get_secret_value().strip()))
        except pyrage.IdentityError:
            raise EscrowError(f"identity {i + 1} is not an age X25519 identity") from None
    return parsed


def seal(document: KeyEscrow, lock: EscrowLock) -> bytes:
    """The age-encrypted escrow file for ``document``."""
    plaintext = document.model_dump_json().encode()
    if lock.passphrase is not None:
        return bytes(pyrage.passphrase.encrypt(plaintext, lock.passphrase.get_secret_value()))
    recipients = _recipients(lock)
    if not recipients:
        raise EscrowError("an escrow needs a passphrase or at least one age recipient")
    return bytes(pyrage.encrypt(plaintext, recipients))


def open_escrow(data: bytes, lock: EscrowLock) -> KeyEscrow:
    """Decrypt and validate an escrow; EscrowError unless it authenticates under ``lock``."""
    if not data.startswith(b"age-encryption.org/v1\n"):
        raise EscrowError("not an escrow: the file is not in the age format")
    try:
        if lock.passphrase is not None:
            plaintext = pyrage.passphrase.decrypt(data, lock.passphrase.get_secret_value())
        else:
            identities = _identities(lock)
            if not identities:
                raise EscrowError("opening an escrow needs its passphrase or an age identity")
            plaintext = pyrage.decrypt(data, identities)
    except pyrage.DecryptError:
        raise EscrowError(
            "the escrow does not authenticate: a wrong passphrase or identity, or the file"
            " was altered or truncated; nothing was imported"
        ) from None
    try:
        document = KeyEscrow.model_validate_json(bytes(plaintext))
    except ValidationError as err:
        where = ".".join(str(p) for p in err.errors()[0]["loc"])
        raise EscrowError(f"the escrow's contents are not a key escrow ({where})") from None
    _check_consistent(document)
    return document


def _check_consistent(document: KeyEscrow) -> None:
    """Every key is what its id says, and every current key is in its ring."""
    for purpose, ring in ((MASTER, document.master), (CODEC, document.codec)):
        if ring.current not in ring.keys:
            raise EscrowError(f"the escrow's {purpose} ring lacks its current key")
        for kid, text in ring.keys.items():
            key = _aes_key(text, f"{purpose} key {kid}")
            if key_id_for(key, purpose) != kid:
                raise EscrowError(f"the escrow's {purpose} key {kid} is not the key of that id")
    evidence = document.evidence
    if evidence.current is not None and evidence.current not in evidence.keys:
        raise EscrowError("the escrow's evidence ring lacks its current key")
    for kid, text in evidence.keys.items():
        if key_id(_signing_key(text, kid).public_key()) != kid:
            raise EscrowError(f"the escrow's evidence key {kid} is not the key of that id")
    for name, text in document.owners.items():
        _aes_key(text, f"owner key {name}")


def _aes_key(text: SecretStr, what: str) -> bytes:
    try:
        return decode_key(text.get_secret_value(), f"the escrow's {what}")
    except KeyMaterialError as err:
        raise EscrowError(str(err)) from None


def _signing_key(text: SecretStr, kid: str) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(text.get_secret_value().encode(), password=None)
    except (ValueError, TypeError):
        raise EscrowError(f"the escrow's evidence key {kid} is not a PEM private key") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise EscrowError(f"the escrow's evidence key {kid} is not an Ed25519 key")
    return key


# --- collecting ---------------------------------------------------------------------


def _ring(ring: AesKeyRing) -> AesRingEscrow:
    return AesRingEscrow(
        current=ring.current_id,
        keys={kid: SecretStr(encode_key(key)) for kid, key in ring.keys.items()},
    )


def evidence_dir(settings: Settings) -> Path:
    """Where the evidence signing keys live."""
    return settings.keys_path / "evidence"


def _evidence(root: Path) -> SigningRingEscrow:
    keys: dict[str, SecretStr] = {}
    if root.is_dir():
        for path in sorted(root.glob("*.key")):
            keys[path.stem] = SecretStr(path.read_text())
    marker = root / _CURRENT
    current = marker.read_text().strip() if marker.is_file() else None
    return SigningRingEscrow(current=current, keys=keys)


def collect(settings: Settings) -> KeyEscrow:
    """Every key this deployment uses, from the environment or ``<data dir>/keys``."""
    owners = owner_keys(settings)
    return KeyEscrow(
        created_at=datetime.now(UTC),
        master=_ring(master_key_ring(settings)),
        codec=_ring(codec_key_ring(settings)),
        evidence=_evidence(evidence_dir(settings)),
        owners={name: SecretStr(encode_key(owners.get_named(name))) for name in owners.names()},
        erased=sorted(owners.erased()),
    )


def write_escrow(path: Path, data: bytes, *, overwrite: bool = False) -> None:
    """Write an escrow file (0600) atomically; refuses to replace one unless asked."""
    if path.exists() and not overwrite:
        raise EscrowError(f"{path} exists; choose another file (nothing was written)")
    if not path.parent.is_dir():
        raise EscrowError(f"{path.parent} is not a directory (nothing was written)")
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    fsync_dir(path.parent)


def read_escrow(path: Path) -> bytes:
    """An escrow file's bytes; EscrowError if it cannot be read."""
    try:
        return path.read_bytes()
    except OSError as err:
        raise EscrowError(f"cannot read {path}: {err.strerror}") from None


# --- restoring ----------------------------------------------------------------------


def _new_file(path: Path, text: str) -> bool:
    """Create ``path`` (0600, fsynced) with ``text``; False if it exists."""
    if path.exists():
        return False
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)
        out.flush()
        os.fsync(out.fileno())
    try:
        os.link(tmp, path)
    except FileExistsError:
        return False
    finally:
        tmp.unlink()
    fsync_dir(path.parent)
    return True


def _set_current(root: Path, kid: str) -> bool:
    """Make ``kid`` current where the directory has no current key; False if it had one."""
    marker = root / _CURRENT
    if marker.exists():
        return marker.read_text().strip() == kid
    tmp = root / f".{_CURRENT}.{secrets.token_hex(4)}"
    tmp.write_text(kid + "\n")
    os.replace(tmp, marker)
    fsync_dir(root)
    return True


def _conflicting_owner_keys(document: KeyEscrow, owners: OwnerKeys, skip: set[str]) -> list[str]:
    conflicts = []
    for name, text in document.owners.items():
        if name in skip or not (owners.root / f"{name}.key").exists():
            continue
        if owners.get_named(name) != _aes_key(text, f"owner key {name}"):
            conflicts.append(name)
    return conflicts


def import_escrow(
    document: KeyEscrow,
    keys_root: Path,
    *,
    ledgers: Sequence[Path] = (),
    erased_elsewhere: Iterable[str] = (),
    master_ids_in_use: Iterable[str] = (),
) -> EscrowImport:
    """Restore ``document`` into ``keys_root`` (``<data dir>/keys``): missing key files
    are written, existing ones kept, current markers set only where none exists, and
    owner keys named by any erasure ledger skipped. Refuses, changing nothing, when a
    key in the directory differs from the escrow's key of the same name, or when the
    escrow and the directory together lack a master key in ``master_ids_in_use`` (the
    database's data keys): age recipients give secrecy, not authorship, so an escrow
    forged for our public key must not become the key ring of a restored database."""
    missing = sorted(
        set(master_ids_in_use)
        - set(document.master.keys)
        - {p.stem for p in (keys_root / MASTER).glob("*.key")}
    )
    if missing:
        raise EscrowError(
            f"the escrow lacks master key(s) {', '.join(missing)} that the database's data"
            " keys are wrapped under: it is not this deployment's escrow; nothing was imported"
        )
    owners = OwnerKeys(keys_root / "owners", ledgers=ledgers)
    erased = set(document.erased) | owners.erased() | set(erased_elsewhere)
    conflicts = _conflicting_owner_keys(document, owners, erased)
    if conflicts:
        raise EscrowError(
            f"{len(conflicts)} owner key(s) in {owners.root} differ from the escrow's"
            f" (first: {conflicts[0]}); nothing was imported"
        )
    added: dict[str, int] = {}
    present: dict[str, int] = {}
    kept: list[str] = []
    for purpose, ring in ((MASTER, document.master), (CODEC, document.codec)):
        root = KeyDirectory(keys_root / purpose, purpose).root
        written = sum(
            _new_file(root / f"{kid}.key", text.get_secret_value().strip() + "\n")
            for kid, text in ring.keys.items()
        )
        added[purpose], present[purpose] = written, len(ring.keys) - written
        if not _set_current(root, ring.current):
            kept.append(purpose)
    evidence_root = keys_root / "evidence"
    written = 0
    for kid, text in document.evidence.keys.items():
        pem = text.get_secret_value()
        written += _new_file(evidence_root / f"{kid}.key", pem)
        public = (
            _signing_key(text, kid)
            .public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )
        if not (evidence_root / f"{kid}.pub").exists():
            (evidence_root / f"{kid}.pub").write_bytes(public)
    added["evidence"], present["evidence"] = written, len(document.evidence.keys) - written
    if document.evidence.current is not None and not _set_current(
        evidence_root, document.evidence.current
    ):
        kept.append("evidence")
    written = skipped = 0
    for name, text in document.owners.items():
        if name in erased:
            skipped += 1
            continue
        written += owners.put_named(name, _aes_key(text, f"owner key {name}"))
    added["owners"] = written
    present["owners"] = len(document.owners) - written - skipped
    owners.record_erased(erased)
    return EscrowImport(
        created_at=document.created_at,
        added=added,
        already_present=present,
        skipped_erased=skipped,
        current_kept=kept,
    )


# --- the daily backup's escrow ------------------------------------------------------


def _passphrase_file(path: Path) -> EscrowLock:
    try:
        mode = path.stat().st_mode
        text = path.read_text()
    except OSError as err:
        raise EscrowError(
            f"cannot read the escrow passphrase file {path}: {err.strerror}"
        ) from None
    if mode & 0o077:
        raise EscrowError(f"{path} is readable or writable by others; run: chmod 600 {path}")
    return EscrowLock.from_passphrase(text.removesuffix("\n"))


def backup_escrow_lock(settings: Settings) -> EscrowLock | None:
    """How each base backup's escrow is sealed (None: backups keep no escrow)."""
    recipients = tuple(r.strip() for r in settings.escrow_recipients.split(",") if r.strip())
    if recipients and settings.escrow_passphrase_file is not None:
        raise EscrowError("set MB_ESCROW_RECIPIENTS or MB_ESCROW_PASSPHRASE_FILE, not both")
    if recipients:
        lock = EscrowLock(recipients=recipients)
        _recipients(lock)  # a malformed recipient is refused at start, not at 3 a.m.
        return lock
    if settings.escrow_passphrase_file is not None:
        return _passphrase_file(settings.escrow_passphrase_file)
    return None


def drill_escrow_lock(settings: Settings) -> EscrowLock | None:
    """How the restore drill opens a backup's escrow (None: it cannot, and uses the
    worker's own keys): the passphrase, or ``MB_ESCROW_IDENTITY_FILE``."""
    if settings.escrow_passphrase_file is not None:
        return _passphrase_file(settings.escrow_passphrase_file)
    if settings.escrow_identity_file is not None:
        return EscrowLock.from_identity_file(settings.escrow_identity_file)
    return None

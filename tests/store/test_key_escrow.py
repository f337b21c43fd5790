"""Key escrow: the key ring sealed with age (X25519 recipients or a passphrase) and
restored into a new data directory, where what the old keys protected still opens.

Adversarial: every part of the file altered, truncation, a wrong identity or
passphrase, an escrow forged for our public key, and an older escrow that would
bring back an erased owner's key: each refused or skipped, with nothing written."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pyrage
import pytest
from pydantic import SecretStr

from schemas.escrow import KeyEscrow
from schemas.settings import Settings
from store.aes_keys import encode_key
from store.envelope import Envelope
from store.key_escrow import (
    EscrowError,
    EscrowLock,
    collect,
    import_escrow,
    open_escrow,
    read_escrow,
    seal,
    write_escrow,
)
from store.key_rings import codec_key_ring, master_envelope, master_key_ring, owner_keys
from store.keyring import SigningKeyRing

PASSPHRASE = "correct horse battery staple"


def stack_keys(data_dir: Path, backups: Path | None = None) -> Settings:
    """Settings for a data directory whose keys are made on first use."""
    return Settings(
        data_dir=data_dir, backup_dir=backups, database_url=SecretStr("postgresql://unused")
    )


def populate(settings: Settings) -> tuple[str, bytes, tuple[str, bytes], tuple[str, bytes]]:
    """Keys as a running stack makes them; (evidence kid, signature, alice's and bob's
    wrapped data keys)."""
    master_key_ring(settings)
    codec_key_ring(settings)
    evidence = SigningKeyRing(settings.data_path / "keys" / "evidence")
    kid, signature = evidence.sign(b"release evidence")
    envelope = master_envelope(settings)
    alice = envelope.wrap("alice", 1, b"a" * 32)
    bob = envelope.wrap("bob", 1, b"b" * 32)
    return kid, signature, alice, bob


@pytest.fixture
def identity() -> pyrage.x25519.Identity:
    return pyrage.x25519.Identity.generate()


def recipient_lock(identity: pyrage.x25519.Identity) -> EscrowLock:
    return EscrowLock(recipients=(str(identity.to_public()),))


def identity_lock(identity: pyrage.x25519.Identity) -> EscrowLock:
    return EscrowLock(identities=(SecretStr(str(identity)),))


def files_under(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*")) if root.exists() else []


def test_a_recipient_escrow_rebuilds_a_working_key_ring(
    tmp_path: Path, identity: pyrage.x25519.Identity
) -> None:
    old = stack_keys(tmp_path / "old")
    kid, signature, (alice_kid, alice_blob), _ = populate(old)
    escrow = tmp_path / "keys.age"
    write_escrow(escrow, seal(collect(old), recipient_lock(identity)))
    assert escrow.stat().st_mode & 0o777 == 0o600
    raw = escrow.read_bytes()
    for key in master_key_ring(old).keys.values():
        assert encode_key(key).encode() not in raw and key not in raw

    new = stack_keys(tmp_path / "new")
    done = import_escrow(
        open_escrow(read_escrow(escrow), identity_lock(identity)), new.data_path / "keys"
    )

    assert done.added == {"master": 1, "codec": 1, "evidence": 1, "owners": 2}
    assert master_key_ring(new) == master_key_ring(old)
    assert codec_key_ring(new) == codec_key_ring(old)
    assert SigningKeyRing(new.data_path / "keys" / "evidence").verify(
        kid, b"release evidence", signature
    )
    assert master_envelope(new).unwrap("alice", 1, alice_kid, alice_blob) == b"a" * 32
    for path in (new.data_path / "keys").rglob("*.key"):
        assert path.stat().st_mode & 0o077 == 0
    # Importing the same escrow again changes nothing.
    again = import_escrow(
        open_escrow(read_escrow(escrow), identity_lock(identity)), new.data_path / "keys"
    )
    assert sum(again.added.values()) == 0


def test_a_passphrase_escrow_opens_only_with_its_passphrase(tmp_path: Path) -> None:
    old = stack_keys(tmp_path / "old")
    populate(old)
    data = seal(collect(old), EscrowLock.from_passphrase(PASSPHRASE))
    assert b"-> scrypt " in data  # age's passphrase recipient
    assert open_escrow(data, EscrowLock.from_passphrase(PASSPHRASE)).master.current == (
        master_key_ring(old).current_id
    )
    with pytest.raises(EscrowError, match="does not authenticate"):
        open_escrow(data, EscrowLock.from_passphrase("correct horse battery stapler"))
    with pytest.raises(EscrowError, match="at least 12"):
        EscrowLock.from_passphrase("short")


def _tamper(data: bytes, where: str) -> bytes:
    """Flip one bit in one part of an age file (or truncate / extend it)."""
    header_end = data.index(b"\n---") + 1
    mac_line_end = data.index(b"\n", header_end) + 1
    positions = {
        "version line": 3,
        "recipient stanza": data.index(b"-> X25519 ") + 12,
        "wrapped file key": data.index(b"\n", data.index(b"-> X25519 ")) + 5,
        "header MAC": header_end + 6,
        "payload nonce": mac_line_end + 4,
        "ciphertext": mac_line_end + 40,
        "final tag": len(data) - 3,
    }
    if where == "truncated":
        return data[:-20]
    if where == "extended":
        return data + b"\0" * 16
    i = positions[where]
    flipped = bytes([data[i] ^ 0x01])
    if where in ("recipient stanza", "wrapped file key", "header MAC"):
        # base64 text: swap for another valid character so only the meaning changes
        flipped = b"B" if data[i : i + 1] != b"B" else b"C"
    return data[:i] + flipped + data[i + 1 :]


@pytest.mark.parametrize(
    "where",
    [
        "version line",
        "recipient stanza",
        "wrapped file key",
        "header MAC",
        "payload nonce",
        "ciphertext",
        "final tag",
        "truncated",
        "extended",
    ],
)
def test_a_tampered_escrow_is_refused_and_nothing_is_written(
    tmp_path: Path, identity: pyrage.x25519.Identity, where: str
) -> None:
    old = stack_keys(tmp_path / "old")
    populate(old)
    data = seal(collect(old), recipient_lock(identity))
    tampered = _tamper(data, where)
    assert tampered != data
    with pytest.raises(EscrowError, match=r"does not authenticate|not in the age format"):
        open_escrow(tampered, identity_lock(identity))


def test_the_wrong_identity_and_files_that_are_not_escrows_are_refused(
    tmp_path: Path, identity: pyrage.x25519.Identity
) -> None:
    old = stack_keys(tmp_path / "old")
    populate(old)
    data = seal(collect(old), recipient_lock(identity))
    stranger = pyrage.x25519.Identity.generate()
    with pytest.raises(EscrowError, match="does not authenticate"):
        open_escrow(data, identity_lock(stranger))
    with pytest.raises(EscrowError, match="not in the age format"):
        open_escrow(b'{"format": "mb-key-escrow/1"}', identity_lock(identity))
    with pytest.raises(EscrowError, match="not an age X25519 recipient"):
        seal(collect(old), EscrowLock(recipients=("age1notarecipient",)))
    with pytest.raises(EscrowError, match="not an age X25519 identity"):
        open_escrow(data, EscrowLock(identities=(SecretStr("AGE-SECRET-KEY-1NOPE"),)))
    with pytest.raises(EscrowError, match="exists"):
        path = tmp_path / "exists.age"
        path.write_bytes(b"")
        write_escrow(path, data)


def _forge(document: KeyEscrow, **changes: object) -> KeyEscrow:
    raw = json.loads(document.model_dump_json())
    raw.update(changes)
    return KeyEscrow.model_validate(raw)


def test_an_escrow_whose_keys_are_not_their_ids_is_refused(
    tmp_path: Path, identity: pyrage.x25519.Identity
) -> None:
    """Anyone holding our public recipient can encrypt a document: its contents are
    checked too (each key's id is the hash of the key)."""
    old = stack_keys(tmp_path / "old")
    populate(old)
    document = collect(old)
    current = document.master.current
    forged_key = base64.b64encode(b"\x01" * 32).decode()
    forged = _forge(document, master={"current": current, "keys": {current: forged_key}})
    with pytest.raises(EscrowError, match="is not the key of that id"):
        open_escrow(seal(forged, recipient_lock(identity)), identity_lock(identity))


def test_a_forged_escrow_cannot_become_a_restored_databases_key_ring(
    tmp_path: Path, identity: pyrage.x25519.Identity
) -> None:
    """An escrow made elsewhere (its own keys, well formed) for our public recipient
    lacks the master key the database's data keys use: refused, nothing written."""
    real = stack_keys(tmp_path / "real")
    _, _, (alice_kid, _), _ = populate(real)
    impostor = stack_keys(tmp_path / "impostor")
    populate(impostor)
    forged = open_escrow(seal(collect(impostor), recipient_lock(identity)), identity_lock(identity))
    target = tmp_path / "new" / "keys"
    with pytest.raises(EscrowError, match="lacks master key"):
        import_escrow(forged, target, master_ids_in_use=[alice_kid])
    assert files_under(target) == []


def test_an_older_escrow_does_not_bring_back_an_erased_owners_key(
    tmp_path: Path, identity: pyrage.x25519.Identity
) -> None:
    """Shredding writes the key's name to the ledgers first; an import of an escrow
    made before the erasure skips it, in the same directory and in a rebuilt one
    (where only the backup directory's ledger survived)."""
    backups = tmp_path / "backups"
    live = stack_keys(tmp_path / "live", backups)
    _, _, _, (bob_kid, bob_blob) = populate(live)
    before = seal(collect(live), recipient_lock(identity))

    assert owner_keys(live).shred("alice")
    assert (backups / "erasures").read_text().split() == [owner_keys(live).key_name("alice")]

    same = import_escrow(
        open_escrow(before, identity_lock(identity)),
        live.data_path / "keys",
        ledgers=owner_keys(live).ledgers[1:],
    )
    assert same.skipped_erased == 1
    assert not owner_keys(live).exists("alice")

    rebuilt = stack_keys(tmp_path / "rebuilt", backups)  # the key directory was lost
    done = import_escrow(
        open_escrow(before, identity_lock(identity)),
        rebuilt.data_path / "keys",
        ledgers=owner_keys(rebuilt).ledgers[1:],
    )
    assert done.skipped_erased == 1 and done.added["owners"] == 1
    envelope: Envelope = master_envelope(rebuilt)
    assert envelope.unwrap("bob", 1, bob_kid, bob_blob) == b"b" * 32
    assert not owner_keys(rebuilt).exists("alice")
    assert owner_keys(rebuilt).key_name("alice") in owner_keys(rebuilt).erased()
    # The erasure now travels in every later escrow, even without the backup ledger.
    later = collect(rebuilt)
    assert owner_keys(rebuilt).key_name("alice") in later.erased
    elsewhere = stack_keys(tmp_path / "elsewhere")
    import_escrow(
        open_escrow(before, identity_lock(identity)),
        elsewhere.data_path / "keys",
        erased_elsewhere=later.erased,
    )
    assert not owner_keys(elsewhere).exists("alice")

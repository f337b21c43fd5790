"""Key rings and envelope encryption: malformed keys refused without echoing them,
unsafe key files refused, and ciphertexts bound to exactly one row and owner."""

from __future__ import annotations

import base64
import os
import stat
from pathlib import Path

import pytest
from pydantic import SecretStr

from store.aes_keys import AesKeyRing, KeyDirectory, KeyMaterialError, encode_key, load_ring
from store.envelope import DecryptionFailed, Envelope, SecretRef, UnknownMasterKey

KEY = bytes(range(32))


def _ring_from_env(
    current: str | None, previous: str | None = None, tmp: Path | None = None
) -> AesKeyRing:
    return load_ring(
        "master",
        current=SecretStr(current) if current is not None else None,
        previous=SecretStr(previous) if previous is not None else None,
        env_name="MB_MASTER_KEY",
        fallback=KeyDirectory(tmp or Path("/nonexistent"), "master").load,
    )


@pytest.mark.parametrize(
    "text",
    [
        "not base64 at all!",
        base64.b64encode(b"x" * 31).decode(),
        base64.b64encode(b"x" * 33).decode(),
        base64.b64encode(KEY).decode()[:-4],  # truncated
        "",
    ],
)
def test_a_malformed_master_key_is_refused_without_showing_it(text: str) -> None:
    with pytest.raises(KeyMaterialError) as caught:
        _ring_from_env(text)
    message = str(caught.value)
    assert "MB_MASTER_KEY" in message
    assert "not shown" in message
    if text:
        assert text not in message and text[:12] not in message


def test_env_keys_make_a_ring_with_the_previous_ones() -> None:
    old = os.urandom(32)
    ring = _ring_from_env(encode_key(KEY), f"{encode_key(old)}, ")
    assert ring.current == KEY
    assert len(ring.keys) == 2 and old in ring.keys.values()
    assert KEY.hex() not in repr(ring)  # keys never in a repr (logs, tracebacks)


def test_previous_without_current_is_refused() -> None:
    with pytest.raises(KeyMaterialError, match="MB_MASTER_KEY_PREVIOUS is set"):
        _ring_from_env(None, encode_key(KEY))


def test_a_bad_previous_key_names_its_entry() -> None:
    with pytest.raises(KeyMaterialError, match=r"entry 2"):
        _ring_from_env(encode_key(KEY), f"{encode_key(os.urandom(32))},abc")


def test_the_embedded_ring_is_created_once_with_private_permissions(tmp_path: Path) -> None:
    directory = KeyDirectory(tmp_path / "keys" / "master", "master")
    first = directory.load()
    assert stat.S_IMODE(directory.root.stat().st_mode) == 0o700
    (key_file,) = directory.root.glob("*.key")
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert directory.load().keys == first.keys  # a second start reuses it

    new_id = directory.add()
    ring = directory.load()
    assert ring.current_id == new_id != first.current_id
    assert first.current_id in ring.keys  # the old key stays until it is retired
    with pytest.raises(KeyMaterialError, match="is current"):
        directory.remove(new_id)
    directory.remove(first.current_id)
    assert set(directory.load().keys) == {new_id}


def test_a_key_file_readable_by_others_is_refused(tmp_path: Path) -> None:
    directory = KeyDirectory(tmp_path / "master", "master")
    directory.load()
    (key_file,) = directory.root.glob("*.key")
    key_file.chmod(0o644)
    with pytest.raises(KeyMaterialError, match="readable or writable by others") as caught:
        directory.load()
    assert key_file.read_text().strip() not in str(caught.value)


def test_a_key_file_that_does_not_match_its_name_is_refused(tmp_path: Path) -> None:
    directory = KeyDirectory(tmp_path / "master", "master")
    directory.load()
    (key_file,) = directory.root.glob("*.key")
    key_file.write_text(encode_key(os.urandom(32)))
    with pytest.raises(KeyMaterialError, match="does not hold key"):
        directory.load()


# --- envelope ------------------------------------------------------------------------------

REF = SecretRef("alice", "shop", "STRIPE_KEY", 3, 1)


@pytest.fixture
def envelope() -> Envelope:
    ring = AesKeyRing.of("master", KEY)
    return Envelope(lambda: ring)


def test_a_value_round_trips_and_the_ciphertext_hides_it(envelope: Envelope) -> None:
    data_key = envelope.new_data_key()
    blob = Envelope.seal(data_key, REF, b"sk_live_abcdef")
    assert b"sk_live" not in blob
    assert Envelope.seal(data_key, REF, b"sk_live_abcdef") != blob  # a fresh nonce each time
    assert Envelope.open(data_key, REF, blob) == b"sk_live_abcdef"


@pytest.mark.parametrize(
    "moved",
    [
        SecretRef("mallory", "shop", "STRIPE_KEY", 3, 1),  # another owner
        SecretRef("alice", "blog", "STRIPE_KEY", 3, 1),  # another app
        SecretRef("alice", "shop", "DB_PASSWORD", 3, 1),  # another name
        SecretRef("alice", "shop", "STRIPE_KEY", 2, 1),  # another version
        SecretRef("alice", "shop", "STRIPE_KEY", 3, 2),  # another data key version
    ],
)
def test_a_ciphertext_moved_to_another_row_does_not_decrypt(
    envelope: Envelope, moved: SecretRef
) -> None:
    data_key = envelope.new_data_key()
    blob = Envelope.seal(data_key, REF, b"pl41ntext")
    with pytest.raises(DecryptionFailed) as caught:
        Envelope.open(data_key, moved, blob)
    assert "pl41ntext" not in str(caught.value)


def test_every_flipped_bit_is_detected(envelope: Envelope) -> None:
    data_key = envelope.new_data_key()
    blob = Envelope.seal(data_key, REF, b"value")
    for i in range(len(blob)):
        tampered = bytearray(blob)
        tampered[i] ^= 0x01
        with pytest.raises(DecryptionFailed):
            Envelope.open(data_key, REF, bytes(tampered))
    with pytest.raises(DecryptionFailed, match="truncated"):
        Envelope.open(data_key, REF, blob[:20])


def test_a_wrapped_data_key_is_bound_to_its_owner_and_version(envelope: Envelope) -> None:
    data_key = envelope.new_data_key()
    kid, wrapped = envelope.wrap("alice", 1, data_key)
    assert envelope.unwrap("alice", 1, kid, wrapped) == data_key
    with pytest.raises(DecryptionFailed):
        envelope.unwrap("mallory", 1, kid, wrapped)
    with pytest.raises(DecryptionFailed):
        envelope.unwrap("alice", 2, kid, wrapped)
    with pytest.raises(UnknownMasterKey, match="not in the key ring"):
        envelope.unwrap("alice", 1, "0123456789abcdef", wrapped)


def test_a_new_master_key_is_picked_up_on_reload(tmp_path: Path) -> None:
    directory = KeyDirectory(tmp_path / "master", "master")
    envelope = Envelope(directory.load)
    first = envelope.current_master_id
    data_key = envelope.new_data_key()
    _, old_wrapped = envelope.wrap("alice", 1, data_key)

    other_process = KeyDirectory(tmp_path / "master", "master")
    new_id = other_process.add()  # e.g. `mb keys rotate` in another process
    kid, wrapped = envelope.wrap("alice", 1, data_key, master_key_id=new_id)  # reloads
    assert kid == new_id and envelope.current_master_id == new_id
    assert envelope.unwrap("alice", 1, new_id, wrapped) == data_key
    assert envelope.unwrap("alice", 1, first, old_wrapped) == data_key


def test_processes_starting_together_share_one_first_key(tmp_path: Path) -> None:
    import multiprocessing

    root = tmp_path / "codec"
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(6) as pool:
        ids = pool.map(_load_current, [str(root)] * 12)
    assert len(set(ids)) == 1
    assert len(list(root.glob("*.key"))) == 1


def _load_current(root: str) -> str:
    return KeyDirectory(Path(root), "codec").load().current_id

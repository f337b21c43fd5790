"""The project's AES key rings, from the key source: master keys (secrets) and payload
keys (codec), plus the owners' erasure keys kept beside them."""

from __future__ import annotations

from schemas.settings import Settings
from store.aes_keys import AesKeyRing, KeyDirectory
from store.envelope import Envelope
from store.key_source import CODEC, MASTER, key_source
from store.owner_keys import OwnerKeys

__all__ = ["CODEC", "MASTER", "codec_key_ring", "master_key_ring"]

ERASURE_LEDGER = "erasures"


def master_key_dir(settings: Settings) -> KeyDirectory:
    """Where the master keys live: ``master`` in the key directory."""
    return KeyDirectory(settings.keys_path / MASTER, MASTER)


def master_key_ring(settings: Settings) -> AesKeyRing:
    """``MB_MASTER_KEY`` (+ ``MB_MASTER_KEY_PREVIOUS``), else the key source's."""
    return key_source(settings).master_ring()


def owner_keys(settings: Settings) -> OwnerKeys:
    """The owners' erasure keys: ``owners`` in the key directory (never in the database); each
    shredded key is also recorded in ``<backup dir>/erasures`` when backups are on, where
    a rebuilt key directory's import finds it."""
    backups = settings.backup_path
    return OwnerKeys(
        settings.keys_path / "owners",
        ledgers=[backups / ERASURE_LEDGER] if backups is not None else [],
    )


def master_envelope(settings: Settings) -> Envelope:
    """Envelope encryption over the master key ring (re-read when a key is missing)
    and the owners' erasure keys."""
    return Envelope(lambda: master_key_ring(settings), owner_keys(settings))


def codec_key_dir(settings: Settings) -> KeyDirectory:
    """Where the payload keys live: ``codec`` in the key directory."""
    return KeyDirectory(settings.keys_path / CODEC, CODEC)


def codec_key_ring(settings: Settings) -> AesKeyRing:
    """``MB_CODEC_KEY`` (+ ``MB_CODEC_KEY_PREVIOUS``), else the key source's."""
    return key_source(settings).codec_ring()

"""The project's AES key rings, from settings: master keys (secrets) and payload keys (codec)."""

from __future__ import annotations

from schemas.settings import Settings
from store.aes_keys import AesKeyRing, KeyDirectory, load_ring
from store.envelope import Envelope
from store.owner_keys import OwnerKeys

MASTER = "master"
CODEC = "codec"
ERASURE_LEDGER = "erasures"


def master_key_dir(settings: Settings) -> KeyDirectory:
    """Where the embedded master keys live: ``<data dir>/keys/master``."""
    return KeyDirectory(settings.data_path / "keys" / MASTER, MASTER)


def master_key_ring(settings: Settings) -> AesKeyRing:
    """``MB_MASTER_KEY`` (+ ``MB_MASTER_KEY_PREVIOUS``), else ``<data dir>/keys/master``."""
    return load_ring(
        MASTER,
        current=settings.master_key,
        previous=settings.master_key_previous,
        env_name="MB_MASTER_KEY",
        directory=master_key_dir(settings),
    )


def owner_keys(settings: Settings) -> OwnerKeys:
    """The owners' erasure keys: ``<data dir>/keys/owners`` (never in the database); each
    shredded key is also recorded in ``<backup dir>/erasures`` when backups are on, where
    a rebuilt key directory's import finds it."""
    backups = settings.backup_path
    return OwnerKeys(
        settings.data_path / "keys" / "owners",
        ledgers=[backups / ERASURE_LEDGER] if backups is not None else [],
    )


def master_envelope(settings: Settings) -> Envelope:
    """Envelope encryption over the master key ring (re-read when a key is missing)
    and the owners' erasure keys."""
    return Envelope(lambda: master_key_ring(settings), owner_keys(settings))


def codec_key_dir(settings: Settings) -> KeyDirectory:
    """Where the embedded payload keys live: ``<data dir>/keys/codec``."""
    return KeyDirectory(settings.data_path / "keys" / CODEC, CODEC)


def codec_key_ring(settings: Settings) -> AesKeyRing:
    """``MB_CODEC_KEY`` (+ ``MB_CODEC_KEY_PREVIOUS``), else ``<data dir>/keys/codec``."""
    return load_ring(
        CODEC,
        current=settings.codec_key,
        previous=settings.codec_key_previous,
        env_name="MB_CODEC_KEY",
        directory=codec_key_dir(settings),
    )

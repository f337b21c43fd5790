"""The data converter every client and worker must use: pydantic JSON, AES-256-GCM encrypted."""

from __future__ import annotations

from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter

from schemas.settings import Settings
from store.key_rings import codec_key_ring
from temporal.codec import EncryptionCodec, encrypted_data_converter


def data_converter(codec: EncryptionCodec | None = None) -> DataConverter:
    """Pydantic models as JSON payloads; encrypted (failures included) when given a codec.

    Without a codec it is only for reading histories recorded before encryption
    (tests/histories) and for the scripted-activity workflow tests.
    """
    if codec is None:
        return pydantic_data_converter
    return encrypted_data_converter(pydantic_data_converter, codec)


def payload_codec(settings: Settings, *, accept_plaintext: bool | None = None) -> EncryptionCodec:
    """The codec for the configured namespace, with the key ring from settings.

    Plaintext payloads are refused unless ``MB_CODEC_ACCEPT_PLAINTEXT`` (a
    migration window for workflows started before encryption) or the caller
    (replay of old histories) allows them.
    """
    ring = codec_key_ring(settings)
    return EncryptionCodec(
        ring.keys,
        ring.current_id,
        settings.temporal_namespace,
        accept_plaintext=settings.codec_accept_plaintext
        if accept_plaintext is None
        else accept_plaintext,
    )

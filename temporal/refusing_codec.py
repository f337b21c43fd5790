"""The workers' codec: a payload it cannot decrypt is marked refused, never a task failure.

The SDK decodes a whole workflow activation before any workflow code runs, so
one payload the strict codec refuses (a signal sent in clear by anyone who can
reach the Temporal frontend, or a tampered ciphertext) would fail the workflow
task on every attempt and wedge the workflow until someone reset it by hand.
The workers' codec replaces such a payload with a refused marker
(:mod:`temporal.refused_payloads`), which no converter reads as a value: a
handler typed with a model drops it (the SDK logs and drops a signal it cannot
convert), and our signal handlers, which take a ``RawValue``, record it.
Clients, the codec server and ``mb replay`` keep the strict codec, which raises.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from temporalio.api.common.v1 import Payload
from temporalio.client import Client
from temporalio.converter import DataConverter, PayloadCodec

from temporal.codec import CodecError, EncryptionCodec
from temporal.refused_payloads import refused_payload

__all__ = ["RefusingCodec", "worker_client", "worker_data_converter"]


class RefusingCodec(PayloadCodec):
    """An :class:`EncryptionCodec` whose decode marks what it refuses instead of raising.

    Encoding is the inner codec's. Each payload is decoded on its own, so one
    refused payload does not take its neighbours with it; nothing of a refused
    payload passes through.
    """

    def __init__(self, inner: EncryptionCodec) -> None:
        self._inner = inner

    @property
    def inner(self) -> EncryptionCodec:
        """The strict codec underneath."""
        return self._inner

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        """Encrypt, as the inner codec does."""
        return await self._inner.encode(payloads)

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        """Decrypt each payload, or put a refused marker in its place."""
        decoded: list[Payload] = []
        for payload in payloads:
            try:
                decoded.extend(await self._inner.decode([payload]))
            except CodecError as err:
                decoded.append(refused_payload(str(err)))
        return decoded


def worker_data_converter(converter: DataConverter) -> DataConverter:
    """``converter`` with its encryption codec made refusing (for workers only).

    Raises:
        ValueError: ``converter`` has no :class:`EncryptionCodec`.
    """
    codec = converter.payload_codec
    if isinstance(codec, RefusingCodec):
        return converter
    if not isinstance(codec, EncryptionCodec):
        raise ValueError("workers need the encrypting data converter")
    return dataclasses.replace(converter, payload_codec=RefusingCodec(codec))


def worker_client(client: Client) -> Client:
    """A client on the same connection whose decoding refuses instead of raising.

    A client without our encryption codec (the scripted workflow tests, which
    run unencrypted) is returned as it is.
    """
    if not isinstance(client.data_converter.payload_codec, EncryptionCodec):
        return client
    config = client.config()
    config["data_converter"] = worker_data_converter(client.data_converter)
    return Client(**config)

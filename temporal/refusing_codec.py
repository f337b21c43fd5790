"""The workers' codec: a payload it cannot decrypt is marked refused, never a task failure.

The SDK decodes a whole workflow activation before any workflow code runs, so
one payload the strict codec refuses (a signal sent in clear by anyone who can
reach the Temporal frontend, or a tampered ciphertext) would fail the workflow
task on every attempt and wedge the workflow until someone reset it by hand.
The workers' codec replaces such a payload with a refused marker
(:mod:`temporal.refused_payloads`), which the workers' payload converter never
reads as a value: our signal handlers, which take a ``RawValue``, see it and
record it; a workflow started with a refused input fails at once
(``PayloadRefused``, not retried) instead of failing its first task forever, so
its id is free again; anywhere else (an activity's input or result) converting
it raises, as a codec error did before. Clients and the codec server keep the
strict codec, which raises.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any, Self

from temporalio.api.common.v1 import Payload
from temporalio.client import Client
from temporalio.contrib.pydantic import PydanticPayloadConverter
from temporalio.converter import (
    DataConverter,
    EncodingPayloadConverter,
    PayloadCodec,
    SerializationContext,
    WithSerializationContext,
    WorkflowSerializationContext,
)
from temporalio.exceptions import ApplicationError

from temporal.codec import CodecError, EncryptionCodec
from temporal.refused_payloads import REFUSED_ENCODING, refusal_reason, refused_payload

__all__ = [
    "ERROR_PAYLOAD_REFUSED",
    "PayloadRefused",
    "RefusingCodec",
    "WorkerPayloadConverter",
    "worker_client",
    "worker_data_converter",
]

ERROR_PAYLOAD_REFUSED = "PayloadRefused"
"""The type of the (non-retryable) failure of a workflow started with a refused input."""


class PayloadRefused(ValueError):
    """A refused payload was to be converted to a value (outside a workflow's own inputs)."""


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


class _RefusedPayloads(EncodingPayloadConverter, WithSerializationContext):
    """Reads a refused marker as an error: one that fails a workflow for its own inputs
    (workflow context), and a plain one everywhere else (activity inputs and results)."""

    def __init__(self, fail_workflow: bool = False) -> None:
        self._fail_workflow = fail_workflow

    @property
    def encoding(self) -> str:
        return REFUSED_ENCODING.decode()

    def to_payload(self, value: Any) -> Payload | None:
        del value
        return None  # never produces one: only the codec does

    def from_payload(self, payload: Payload, type_hint: type | None = None) -> Any:
        del type_hint
        reason = refusal_reason(payload) or "the payload could not be decoded"
        if self._fail_workflow:
            raise ApplicationError(
                f"refused input: {reason}", type=ERROR_PAYLOAD_REFUSED, non_retryable=True
            )
        raise PayloadRefused(reason)

    def with_context(self, context: SerializationContext) -> Self:
        return type(self)(fail_workflow=isinstance(context, WorkflowSerializationContext))


class WorkerPayloadConverter(PydanticPayloadConverter):
    """Our pydantic JSON converter, plus the reading of refused markers."""

    def __init__(self) -> None:
        super().__init__()
        self._set_converters(*self.converters.values(), _RefusedPayloads())


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
    return dataclasses.replace(
        converter,
        payload_codec=RefusingCodec(codec),
        payload_converter_class=WorkerPayloadConverter,
    )


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

"""The workers' codec: what the strict codec refuses becomes an empty refused marker that
no converter reads as a value; nothing of the refused payload passes through."""

from __future__ import annotations

import json

import pytest
from temporalio.api.common.v1 import Payload
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import ActivitySerializationContext, WorkflowSerializationContext
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from schemas.deployment import RollbackRequest
from temporal.codec import CodecError, EncryptionCodec, encrypted_data_converter, key_id_for
from temporal.refused_payloads import REFUSED_ENCODING, refusal_reason, refused_payload
from temporal.refusing_codec import (
    ERROR_PAYLOAD_REFUSED,
    PayloadRefused,
    RefusingCodec,
    WorkerPayloadConverter,
    worker_client,
    worker_data_converter,
)

KEY = bytes(range(32))
STRICT = EncryptionCodec({key_id_for(KEY): KEY}, key_id_for(KEY), "default")
MARKER = "mallory-was-here"


def _plain(value: object) -> Payload:
    return Payload(metadata={"encoding": b"json/plain"}, data=json.dumps(value).encode())


async def _sealed(value: object) -> Payload:
    [sealed] = await STRICT.encode([_plain(value)])
    return sealed


async def test_a_plaintext_payload_becomes_an_empty_refused_marker() -> None:
    plain = _plain({"request_id": "r" * 16, "requested_by": MARKER})
    with pytest.raises(CodecError, match="unencrypted"):
        await STRICT.decode([plain])

    [out] = await RefusingCodec(STRICT).decode([plain])

    assert out.metadata["encoding"] == REFUSED_ENCODING
    assert out.data == b""
    assert set(out.metadata) == {"encoding", "mb-refused-reason"}
    assert MARKER not in out.SerializeToString().decode(errors="replace")
    assert "unencrypted" in (refusal_reason(out) or "")


async def test_a_tampered_ciphertext_is_refused_and_its_neighbours_still_decode() -> None:
    good = await _sealed({"n": 1})
    bad = await _sealed({"n": 2, "who": MARKER})
    tampered = Payload()
    tampered.CopyFrom(bad)
    tampered.data = bad.data[:-1] + bytes([bad.data[-1] ^ 1])

    decoded = await RefusingCodec(STRICT).decode([good, tampered, good])

    assert [refusal_reason(p) is None for p in decoded] == [True, False, True]
    assert json.loads(decoded[0].data) == {"n": 1}
    assert "failed authentication" in (refusal_reason(decoded[1]) or "")
    assert decoded[1].data == b""


async def test_valid_payloads_decode_exactly_as_with_the_strict_codec() -> None:
    sealed = [await _sealed({"n": n}) for n in range(3)]

    assert await RefusingCodec(STRICT).decode(sealed) == await STRICT.decode(sealed)
    assert await RefusingCodec(STRICT).decode(await RefusingCodec(STRICT).encode(sealed)) == sealed


def test_no_converter_reads_a_refused_marker_as_a_value() -> None:
    converter = pydantic_data_converter.payload_converter
    marker = refused_payload("refused an unencrypted payload")

    for hint in (RollbackRequest, dict, None):
        with pytest.raises(KeyError, match="binary/mb-refused"):
            converter.from_payloads([marker], [hint] if hint else None)
    assert refusal_reason(_plain({"a": 1})) is None


async def test_only_workers_get_the_refusing_codec() -> None:
    encrypted = encrypted_data_converter(pydantic_data_converter, STRICT)

    worker = worker_data_converter(encrypted)

    assert isinstance(worker.payload_codec, RefusingCodec)
    assert worker.payload_codec.inner is STRICT
    assert worker_data_converter(worker) is worker
    assert encrypted.payload_codec is STRICT  # the clients' converter is untouched
    with pytest.raises(ValueError, match="encrypting"):
        worker_data_converter(pydantic_data_converter)


async def test_a_worker_client_shares_the_connection_but_not_the_codec(
    env: WorkflowEnvironment,
) -> None:
    encrypted = Client(
        env.client.service_client,
        namespace=env.client.namespace,
        data_converter=encrypted_data_converter(pydantic_data_converter, STRICT),
    )

    worker = worker_client(encrypted)

    assert worker.service_client is encrypted.service_client
    assert isinstance(worker.data_converter.payload_codec, RefusingCodec)
    assert encrypted.data_converter.payload_codec is STRICT
    assert worker_client(env.client) is env.client  # unencrypted (scripted tests): as it is


def test_the_workers_converter_fails_a_workflow_only_for_its_own_refused_inputs() -> None:
    marker = refused_payload("refused an unencrypted payload")
    converter = WorkerPayloadConverter()
    in_workflow = converter.with_context(WorkflowSerializationContext("default", "app-x"))
    in_activity = converter.with_context(
        ActivitySerializationContext(
            namespace="default",
            workflow_id="app-x",
            workflow_type="AppWorkflow",
            activity_type="start_instance",
            activity_id="1",
            activity_task_queue="mb-runtime-local",
            is_local=False,
        )
    )

    with pytest.raises(ApplicationError) as failed:
        in_workflow.from_payloads([marker], [RollbackRequest])
    assert failed.value.type == ERROR_PAYLOAD_REFUSED and failed.value.non_retryable
    assert "unencrypted" in str(failed.value)
    for plain in (converter, in_activity):
        with pytest.raises(PayloadRefused, match="unencrypted"):
            plain.from_payloads([marker], [RollbackRequest])
    assert converter.to_payloads([{"a": 1}])[0].metadata["encoding"] == b"json/plain"

"""The AES-256-GCM payload codec: round trips, tampering, rotation, limits, and what
a real Temporal server ends up storing."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import uuid
import zlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from temporalio import activity, workflow

# The workflow below lives in this module, so the sandbox re-imports it: pass the
# rest through (cryptography's native module cannot be loaded twice).
with workflow.unsafe.imports_passed_through():
    import pytest
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    from google.protobuf.message import Message
    from pydantic import BaseModel
    from temporalio.api.common.v1 import Payload, WorkflowExecution
    from temporalio.api.enums.v1 import EventType
    from temporalio.client import Client, WorkflowHistory
    from temporalio.common import RetryPolicy
    from temporalio.contrib.pydantic import pydantic_data_converter
    from temporalio.converter import DefaultFailureConverterWithEncodedAttributes
    from temporalio.exceptions import ActivityError, ApplicationError
    from temporalio.testing import WorkflowEnvironment
    from temporalio.worker import Worker

    from temporal.codec import (
        ENCODING,
        META_COMPRESSION,
        META_KEY_ID,
        CodecError,
        CodecKeyError,
        EncryptionCodec,
        encrypted_data_converter,
        key_id_for,
        new_key,
    )
    from temporal.converter import data_converter

K1 = bytes(range(32))
K2 = bytes(range(100, 132))
K1_ID = key_id_for(K1)
K2_ID = key_id_for(K2)
NS = "default"


def codec_for(
    keys: dict[str, bytes] | None = None,
    current: str = K1_ID,
    namespace: str = NS,
    *,
    compress_min_bytes: int = 4096,
    max_decoded_bytes: int = 64 * 1024 * 1024,
) -> EncryptionCodec:
    return EncryptionCodec(
        keys or {K1_ID: K1},
        current,
        namespace,
        compress_min_bytes=compress_min_bytes,
        max_decoded_bytes=max_decoded_bytes,
    )


def json_payload(value: object) -> Payload:
    data = json.dumps(value, ensure_ascii=False).encode()
    return Payload(metadata={"encoding": b"json/plain"}, data=data)


def binary_payload(data: bytes) -> Payload:
    return Payload(metadata={"encoding": b"binary/plain"}, data=data)


def compressible(size: int) -> Payload:
    rows = [{"id": i, "name": f"user-{i}", "role": "climber", "active": True} for i in range(size)]
    return json_payload(rows)


async def encode1(codec: EncryptionCodec, payload: Payload) -> Payload:
    return (await codec.encode([payload]))[0]


async def decode1(codec: EncryptionCodec, payload: Payload) -> Payload:
    return (await codec.decode([payload]))[0]


def with_metadata(payload: Payload, **changes: bytes) -> Payload:
    altered = Payload()
    altered.CopyFrom(payload)
    for key, value in changes.items():
        altered.metadata[key.replace("_", "-")] = value
    return altered


def with_data(payload: Payload, data: bytes) -> Payload:
    altered = Payload()
    altered.CopyFrom(payload)
    altered.data = data
    return altered


# -- round trips ---------------------------------------------------------------------------

ROUNDTRIP_CASES = {
    "empty": binary_payload(b""),
    "unicode-json": json_payload({"msg": "héllo wörld ✓ 日本語 🚀", "marker": "s3cr3t-rt-42"}),
    "1mib-random": binary_payload(os.urandom(1024 * 1024)),
    "no-metadata": Payload(data=b"just bytes"),
}


@pytest.mark.parametrize("name", ROUNDTRIP_CASES)
async def test_roundtrip_hides_the_plaintext_and_uses_a_fresh_nonce(name: str) -> None:
    codec = codec_for()
    original = ROUNDTRIP_CASES[name]
    snapshot = original.SerializeToString()

    first, second = await codec.encode([original, original])

    assert original.SerializeToString() == snapshot  # input not mutated
    for encoded in (first, second):
        assert encoded.metadata["encoding"] == ENCODING
        assert encoded.metadata[META_KEY_ID] == K1_ID.encode()
        assert set(encoded.metadata) == {"encoding", META_KEY_ID, META_COMPRESSION}
        if original.data:
            assert original.data not in encoded.data
        assert await decode1(codec, encoded) == original
    assert first.data[:12] != second.data[:12]
    assert first.data != second.data


async def test_a_batch_decodes_in_order_and_each_output_owns_its_bytes() -> None:
    # Encoding reuses a scratch buffer: earlier outputs must not change when later
    # payloads are written into it.
    codec = codec_for()
    originals = [binary_payload(os.urandom(n)) for n in (10, 300_000, 5, 70_000, 0)]
    encoded = await codec.encode(originals)
    snapshots = [e.SerializeToString() for e in encoded]
    more = await codec.encode([binary_payload(os.urandom(400_000)) for _ in range(3)])
    assert [e.SerializeToString() for e in encoded] == snapshots
    assert await codec.decode(encoded) == originals
    assert len(await codec.decode(more)) == 3


def test_threads_encoding_at_once_do_not_share_a_buffer() -> None:
    codec = codec_for()
    originals = [[binary_payload(bytes([t]) * 200_000) for _ in range(20)] for t in range(4)]

    def roundtrip(payloads: list[Payload]) -> list[Payload]:
        async def go() -> list[Payload]:
            return await codec.decode(await codec.encode(payloads))

        return asyncio.run(go())

    with ThreadPoolExecutor(4) as pool:
        assert list(pool.map(roundtrip, originals)) == originals


# -- compression ---------------------------------------------------------------------------


async def test_a_large_compressible_payload_is_compressed() -> None:
    codec = codec_for()
    original = compressible(2000)
    size = original.ByteSize()
    assert size > 64_000

    encoded = await encode1(codec, original)

    assert encoded.metadata[META_COMPRESSION] == b"zlib"
    assert len(encoded.data) < size / 3
    assert await decode1(codec, encoded) == original


async def test_small_or_incompressible_payloads_are_not_compressed() -> None:
    codec = codec_for()
    small = compressible(20)
    assert small.ByteSize() < 4096
    noise = binary_payload(os.urandom(256 * 1024))
    # A compressible start on random bytes: the probe samples the middle and skips
    # a whole-payload compression that would save 3 %.
    mixed = binary_payload(b"a" * 2000 + os.urandom(64 * 1024))

    for original in (small, noise, mixed):
        encoded = await encode1(codec, original)
        assert encoded.metadata[META_COMPRESSION] == b"none"
        assert len(encoded.data) == 12 + original.ByteSize() + 16
        assert await decode1(codec, encoded) == original


async def test_compress_min_bytes_is_honoured() -> None:
    original = compressible(20)
    eager = codec_for(compress_min_bytes=0)
    encoded = await encode1(eager, original)
    assert encoded.metadata[META_COMPRESSION] == b"zlib"
    assert await decode1(eager, encoded) == original


# -- tampering -----------------------------------------------------------------------------


def bit_positions(length: int) -> Iterator[tuple[str, int]]:
    yield "nonce", 0
    yield "nonce-end", 11
    yield "ciphertext", 12 + (length - 28) // 2
    yield "tag", length - 16
    yield "tag-end", length - 1


@pytest.mark.parametrize("original", [compressible(20), compressible(2000)], ids=["plain", "zlib"])
async def test_a_flipped_bit_anywhere_is_refused(original: Payload) -> None:
    codec = codec_for()
    encoded = await encode1(codec, original)
    for where, index in bit_positions(len(encoded.data)):
        for bit in (0, 7):
            data = bytearray(encoded.data)
            data[index] ^= 1 << bit
            with pytest.raises(CodecError, match="failed authentication") as caught:
                await decode1(codec, with_data(encoded, bytes(data)))
            assert K1_ID in str(caught.value), where


async def test_a_payload_from_another_namespace_is_refused() -> None:
    encoded = await encode1(codec_for(namespace="a"), json_payload({"x": 1}))
    with pytest.raises(CodecError, match=r"failed authentication.*another namespace than 'b'"):
        await decode1(codec_for(namespace="b"), encoded)
    assert await decode1(codec_for(namespace="a"), encoded) == json_payload({"x": 1})


async def test_swapped_key_id_metadata_is_refused_even_with_the_same_key() -> None:
    # Two ids for the same key material: only the associated data tells them apart.
    ring = {"id-a": K1, "id-b": K1, K2_ID: K2}
    codec = codec_for(ring, current="id-a")
    encoded = await encode1(codec, json_payload({"x": 1}))
    for other in ("id-b", K2_ID):
        with pytest.raises(CodecError, match=f"key id '{other}' failed authentication"):
            await decode1(codec, with_metadata(encoded, encryption_key_id=other.encode()))


async def test_swapped_compression_metadata_is_refused() -> None:
    codec = codec_for()
    plain = await encode1(codec, compressible(20))
    packed = await encode1(codec, compressible(2000))
    assert plain.metadata[META_COMPRESSION] == b"none"
    assert packed.metadata[META_COMPRESSION] == b"zlib"
    with pytest.raises(CodecError, match="failed authentication"):
        await decode1(codec, with_metadata(plain, encryption_compression=b"zlib"))
    with pytest.raises(CodecError, match="failed authentication"):
        await decode1(codec, with_metadata(packed, encryption_compression=b"none"))
    with pytest.raises(CodecError, match="unknown compression 'lz4'"):
        await decode1(codec, with_metadata(packed, encryption_compression=b"lz4"))


async def test_an_unknown_key_id_is_named() -> None:
    codec = codec_for()
    encoded = await encode1(codec, json_payload({"x": 1}))
    forged = with_metadata(encoded, encryption_key_id=b"feedfacefeedface")
    with pytest.raises(CodecError, match=f"unknown key id 'feedfacefeedface' \\(known: {K1_ID}\\)"):
        await decode1(codec, forged)
    missing = Payload()
    missing.CopyFrom(encoded)
    del missing.metadata[META_KEY_ID]
    with pytest.raises(CodecError, match="unknown key id ''"):
        await decode1(codec, missing)


async def test_truncated_data_is_refused() -> None:
    codec = codec_for()
    encoded = await encode1(codec, json_payload({"x": "y" * 100}))
    for cut in (0, 5, 12, 27):
        with pytest.raises(CodecError, match="truncated"):
            await decode1(codec, with_data(encoded, encoded.data[:cut]))
    for cut in (28, len(encoded.data) - 1):
        with pytest.raises(CodecError, match="failed authentication"):
            await decode1(codec, with_data(encoded, encoded.data[:cut]))


# -- rotation, plaintext, limits -----------------------------------------------------------


async def test_key_rotation() -> None:
    old_codec = codec_for({K1_ID: K1}, current=K1_ID)
    old_payload = await encode1(old_codec, json_payload({"v": "old"}))

    rotated = codec_for({K1_ID: K1, K2_ID: K2}, current=K2_ID)
    assert await decode1(rotated, old_payload) == json_payload({"v": "old"})
    new_payload = await encode1(rotated, json_payload({"v": "new"}))
    assert new_payload.metadata[META_KEY_ID] == K2_ID.encode()
    assert rotated.key_ids == sorted([K1_ID, K2_ID])
    assert rotated.current_key_id == K2_ID

    retired = codec_for({K2_ID: K2}, current=K2_ID)
    assert await decode1(retired, new_payload) == json_payload({"v": "new"})
    with pytest.raises(CodecError, match=f"unknown key id '{K1_ID}' \\(known: {K2_ID}\\)"):
        await decode1(retired, old_payload)


async def test_plaintext_is_refused_unless_accepted() -> None:
    plain = json_payload({"recorded": "before the codec"})
    with pytest.raises(CodecError, match="refused an unencrypted payload \\(encoding 'json/plain'"):
        await decode1(codec_for(), plain)
    with pytest.raises(CodecError, match="encoding 'none'"):
        await decode1(codec_for(), Payload(data=b"x"))

    lenient = EncryptionCodec({K1_ID: K1}, K1_ID, NS, accept_plaintext=True)
    assert await lenient.decode([plain]) == [plain]
    # Encrypted payloads in the same batch are still decrypted.
    encrypted = await encode1(lenient, json_payload({"new": 1}))
    assert await lenient.decode([plain, encrypted]) == [plain, json_payload({"new": 1})]


async def test_a_decompression_bomb_is_refused() -> None:
    limit = 1024 * 1024
    codec = codec_for(max_decoded_bytes=limit)
    inner = binary_payload(b"\0" * (16 * limit)).SerializeToString()
    bomb = zlib.compress(inner, 9)
    assert len(bomb) < limit // 20
    # Encrypted correctly with the real key, as an insider could: only the size
    # limit stands in the way.
    nonce = os.urandom(12)
    aad = b"mb-codec/v1\0" + NS.encode() + b"\0" + K1_ID.encode() + b"\0zlib"
    sealed = Payload(
        metadata={"encoding": ENCODING, META_KEY_ID: K1_ID.encode(), META_COMPRESSION: b"zlib"},
        data=nonce + AESGCM(K1).encrypt(nonce, bomb, aad),
    )
    with pytest.raises(CodecError, match=f"inflates beyond max_decoded_bytes \\({limit}\\)"):
        await decode1(codec, sealed)
    # The same stream is fine for a codec that allows that much.
    roomy = codec_for(max_decoded_bytes=len(inner))
    assert await decode1(roomy, sealed) == binary_payload(b"\0" * (16 * limit))


async def test_payloads_at_the_limit_decode_and_bigger_ones_are_sent_uncompressed() -> None:
    original = compressible(3000)
    exact = codec_for(max_decoded_bytes=original.ByteSize())
    at_limit = await encode1(exact, original)
    assert at_limit.metadata[META_COMPRESSION] == b"zlib"
    assert await decode1(exact, at_limit) == original

    tight = codec_for(max_decoded_bytes=original.ByteSize() - 1)
    over = await encode1(tight, original)
    assert over.metadata[META_COMPRESSION] == b"none"
    assert await decode1(tight, over) == original


# -- construction --------------------------------------------------------------------------


def key_renderings(key: bytes) -> list[str]:
    return [
        key.hex(),
        key.hex().upper(),
        base64.b64encode(key).decode(),
        base64.urlsafe_b64encode(key).decode(),
        repr(key)[2:-1],
    ]


def test_a_short_key_is_refused_without_showing_it() -> None:
    short = os.urandom(16)
    with pytest.raises(CodecKeyError, match="key 'k-short' is 16 bytes; AES-256 needs exactly 32"):
        EncryptionCodec({"k-short": short, K1_ID: K1}, K1_ID, NS)
    with pytest.raises(CodecKeyError) as caught:
        EncryptionCodec({"k-short": short}, "k-short", NS)
    message = str(caught.value)
    for rendering in key_renderings(short):
        assert rendering not in message


def test_a_missing_current_key_is_refused_without_showing_keys() -> None:
    with pytest.raises(CodecKeyError) as caught:
        EncryptionCodec({K1_ID: K1}, "nope", NS)
    message = str(caught.value)
    assert "current key id 'nope' is not in the key ring" in message
    assert K1_ID in message
    for rendering in key_renderings(K1):
        assert rendering not in message
    with pytest.raises(CodecKeyError, match="known: none"):
        EncryptionCodec({}, "nope", NS)


@pytest.mark.parametrize("bad_id", ["", "has space", "tab\there", "nul\0", "ünïcode", "new\nline"])
def test_malformed_key_ids_are_refused(bad_id: str) -> None:
    with pytest.raises(CodecKeyError, match=r"key id .* is invalid"):
        EncryptionCodec({bad_id: K1}, bad_id, NS)


def test_other_bad_arguments_are_refused() -> None:
    with pytest.raises(CodecKeyError, match="key 'k' must be bytes, not str"):
        EncryptionCodec({"k": "x" * 32}, "k", NS)  # type: ignore[dict-item]
    assert issubclass(CodecKeyError, ValueError)
    with pytest.raises(ValueError, match="namespace"):
        EncryptionCodec({K1_ID: K1}, K1_ID, "")
    with pytest.raises(ValueError, match="max_decoded_bytes"):
        EncryptionCodec({K1_ID: K1}, K1_ID, NS, max_decoded_bytes=0)


def test_key_helpers() -> None:
    a, b = new_key(), new_key()
    assert len(a) == 32 and a != b
    assert key_id_for(a) == key_id_for(a)
    assert key_id_for(a) != key_id_for(b)
    assert len(key_id_for(a)) == 16 and int(key_id_for(a), 16) >= 0
    assert a.hex()[:16] != key_id_for(a)


def test_the_data_converter_encodes_payloads_and_failures() -> None:
    codec = codec_for()
    converter = encrypted_data_converter(pydantic_data_converter, codec)
    assert converter.payload_codec is codec
    assert isinstance(converter.failure_converter, DefaultFailureConverterWithEncodedAttributes)
    assert converter.payload_converter_class is pydantic_data_converter.payload_converter_class
    assert pydantic_data_converter.payload_codec is None  # the base is left alone
    with pytest.raises(ValueError, match="already has a payload codec"):
        encrypted_data_converter(converter, codec)


class Climber(BaseModel):
    name: str
    grade: str


ENCODED_BY_OUR_CONVERTER: list[tuple[object, type, bytes]] = [
    (None, type(None), b"binary/null"),
    (b"raw-bytes-marker-7", bytes, b"binary/plain"),
    ("text-marker-7", str, b"json/plain"),
    (Climber(name="model-marker-7", grade="7a"), Climber, b"json/plain"),
    (WorkflowExecution(workflow_id="proto-marker-7"), WorkflowExecution, b"json/protobuf"),
]


async def test_every_encoding_the_converter_produces_is_encrypted_and_round_trips() -> None:
    """None, bytes, str, a pydantic model and a protobuf message each leave our data
    converter encrypted, whatever encoding the payload converter gave them."""
    codec = codec_for()
    converter = data_converter(codec)
    values = [value for value, _, _ in ENCODED_BY_OUR_CONVERTER]
    encoded = await converter.encode(values)

    inner = await codec.decode(encoded)
    assert [p.metadata["encoding"] for p in inner] == [e for _, _, e in ENCODED_BY_OUR_CONVERTER]
    for payload, plain in zip(encoded, inner, strict=True):
        assert payload.metadata["encoding"] == ENCODING
        assert set(payload.metadata) == {"encoding", META_KEY_ID, META_COMPRESSION}
        assert b"binary/" not in payload.data and b"json/" not in payload.data
        if plain.data:
            assert plain.data not in payload.data
    assert b"marker-7" not in b"".join(p.SerializeToString() for p in encoded)

    decoded = await converter.decode(encoded, [t for _, t, _ in ENCODED_BY_OUR_CONVERTER])
    assert decoded == values


# -- against a real Temporal server --------------------------------------------------------


class ProbeInput(BaseModel):
    secret: str
    failure_marker: str


@activity.defn
async def fail_with_marker(data: ProbeInput) -> str:
    raise ApplicationError(
        f"activity failed near {data.failure_marker}",
        {"detail": data.failure_marker},
        type="MarkerError",
        non_retryable=True,
    )


@workflow.defn
class CodecProbeWorkflow:
    @workflow.run
    async def run(self, data: ProbeInput) -> str:
        try:
            await workflow.execute_activity(
                fail_with_marker,
                data,
                start_to_close_timeout=timedelta(seconds=10),
                retry_policy=RetryPolicy(maximum_attempts=1),
            )
        except ActivityError as err:
            cause = err.cause
            assert isinstance(cause, ApplicationError)
            return f"{data.secret} | {cause.message} | {cause.details[0]['detail']}"
        raise ApplicationError("the activity was expected to fail", non_retryable=True)


def payloads_in(message: Message) -> Iterator[Payload]:
    """Every Payload nested anywhere in ``message`` (maps and repeated fields included)."""
    if isinstance(message, Payload):
        yield message
        return
    for field, value in message.ListFields():
        if field.message_type is None:
            continue
        if isinstance(value, Message):
            items = [value]
        elif field.message_type.GetOptions().map_entry:
            items = list(value.values())
        else:
            items = list(value)
        for item in items:
            if isinstance(item, Message):
                yield from payloads_in(item)


def history_bytes(history: WorkflowHistory) -> bytes:
    return b"".join(event.SerializeToString() for event in history.events)


async def test_a_real_server_only_ever_sees_ciphertext(env: WorkflowEnvironment) -> None:
    secret = f"s3cr3t-marker-{uuid.uuid4().hex}"
    failure_marker = f"s3cr3t-failure-{uuid.uuid4().hex}"
    memo_marker = f"s3cr3t-memo-{uuid.uuid4().hex}"
    codec = EncryptionCodec({K1_ID: K1}, K1_ID, env.client.namespace)
    config = env.client.config()
    config["data_converter"] = encrypted_data_converter(pydantic_data_converter, codec)
    codec_client = Client(**config)
    plain_client = env.client  # the project's converter, no codec
    assert plain_client.data_converter.payload_codec is None

    queue = f"codec-{uuid.uuid4()}"
    workflow_id = f"codec-probe-{uuid.uuid4()}"
    async with Worker(
        codec_client,
        task_queue=queue,
        workflows=[CodecProbeWorkflow],
        activities=[fail_with_marker],
    ):
        handle = await codec_client.start_workflow(
            CodecProbeWorkflow.run,
            ProbeInput(secret=secret, failure_marker=failure_marker),
            id=workflow_id,
            task_queue=queue,
            memo={"note": memo_marker},
            execution_timeout=timedelta(seconds=30),
        )
        result = await handle.result()

    # Decoded through the codec, everything is back, the failure message included.
    assert result == f"{secret} | activity failed near {failure_marker} | {failure_marker}"

    history = await plain_client.get_workflow_handle(workflow_id).fetch_history()
    as_json = history.to_json()
    raw = history_bytes(history)
    # to_json shows payload data in base64, so also look at the raw proto bytes,
    # where an unencrypted payload or failure message would appear verbatim.
    plaintext_input = (
        await pydantic_data_converter.encode(
            [ProbeInput(secret=secret, failure_marker=failure_marker)]
        )
    )[0].SerializeToString()
    assert secret.encode() in plaintext_input  # the check below can see a leak
    for marker in (secret, failure_marker, memo_marker):
        assert marker not in as_json
        assert marker.encode() not in raw

    payloads = [p for event in history.events for p in payloads_in(event)]
    # workflow input, memo, activity input, failure attributes + details, result
    assert len(payloads) >= 6
    for payload in payloads:
        assert payload.metadata["encoding"] == ENCODING
        assert payload.metadata[META_KEY_ID] == K1_ID.encode()

    failed = [
        e for e in history.events if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED
    ]
    assert len(failed) == 1
    failure = failed[0].activity_task_failed_event_attributes.failure
    assert failure.message == "Encoded failure"
    assert failure.stack_trace == ""
    assert failure.HasField("encoded_attributes")

    # Without the codec the result cannot be read.
    with pytest.raises(KeyError, match="Unknown payload encoding binary/encrypted"):
        await plain_client.get_workflow_handle(workflow_id).result()


async def test_a_worker_with_the_wrong_key_cannot_make_progress(env: WorkflowEnvironment) -> None:
    ns = env.client.namespace
    config = env.client.config()
    config["data_converter"] = encrypted_data_converter(
        pydantic_data_converter, EncryptionCodec({K1_ID: K1}, K1_ID, ns)
    )
    starter = Client(**config)
    # Same key id, other key material: decryption fails authentication.
    config["data_converter"] = encrypted_data_converter(
        pydantic_data_converter, EncryptionCodec({K1_ID: K2}, K1_ID, ns)
    )
    impostor = Client(**config)

    queue = f"codec-{uuid.uuid4()}"
    async with Worker(
        impostor, task_queue=queue, workflows=[CodecProbeWorkflow], activities=[fail_with_marker]
    ):
        handle = await starter.start_workflow(
            CodecProbeWorkflow.run,
            ProbeInput(secret="s", failure_marker="f"),
            id=f"codec-wrong-key-{uuid.uuid4()}",
            task_queue=queue,
        )
        task_failure = None
        for _ in range(100):
            history = await handle.fetch_history()
            failed = [
                e
                for e in history.events
                if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED
            ]
            if failed:
                task_failure = failed[0].workflow_task_failed_event_attributes.failure
                break
            await asyncio.sleep(0.1)
    assert task_failure is not None, "the impostor worker was expected to fail its task"
    # Its report of why is encrypted too, under its own key.
    assert task_failure.message == "Encoded failure"
    error = await impostor.data_converter.decode_failure(task_failure)
    assert f"payload encrypted with key id '{K1_ID}' failed authentication" in str(error)
    assert not any(
        e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED for e in history.events
    )
    description = await handle.describe()
    assert description.status is not None and description.status.name == "RUNNING"
    await handle.terminate("test done")

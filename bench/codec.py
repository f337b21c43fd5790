"""Payload codec cost: EncryptionCodec encode+decode against bare AES-256-GCM.

    .venv/bin/python -m bench.codec [--rounds N]

For each size the same bytes go through, in the same process and run:

- raw: ``AESGCM.encrypt`` then ``AESGCM.decrypt`` (the floor: no protobuf, no
  compression probe, no metadata);
- codec: ``await codec.encode([payload])`` then ``await codec.decode(...)``
  through the public async API, the payload being the bytes as
  ``binary/plain`` data.

The headline ratios (codec throughput / raw throughput) use random, hence
incompressible, bytes. The JSON case is a list of generated app bundles
serialized by the pydantic converter, the kind of payload the pipeline
carries: it is compressed, so it is reported with its size on the wire.
Each timing is the best of ``--rounds`` rounds (the machine is shared).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from collections.abc import Awaitable, Callable

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.contrib.pydantic import pydantic_data_converter

from activities.generation import generate_offline
from temporal.codec import META_COMPRESSION, EncryptionCodec, key_id_for, new_key

SIZES = {"1k": 1024, "64k": 64 * 1024, "1m": 1024 * 1024}
SMALL_BYTES = 100
MB = 1e6


def _repetitions(size: int) -> int:
    """Enough operations per round for ~5 ms of work at GB/s speeds."""
    return max(20, (8 * 1024 * 1024) // size)


async def _best(op: Callable[[], Awaitable[object]], reps: int, rounds: int) -> float:
    """Best seconds per call of ``op`` over ``rounds`` rounds of ``reps`` calls."""
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(reps):
            await op()
        best = min(best, (time.perf_counter() - start) / reps)
    return best


async def _raw_roundtrip_s(cipher: AESGCM, data: bytes, reps: int, rounds: int) -> float:
    nonce = os.urandom(12)
    aad = b"mb-codec/v1\0default\0" + b"0" * 16 + b"\0none"
    sealed = cipher.encrypt(nonce, data, aad)

    async def roundtrip() -> bytes:
        cipher.encrypt(nonce, data, aad)
        return cipher.decrypt(nonce, sealed, aad)

    return await _best(roundtrip, reps, rounds)


async def _codec_roundtrip_s(
    codec: EncryptionCodec, payload: Payload, reps: int, rounds: int
) -> tuple[float, Payload]:
    encoded = (await codec.encode([payload]))[0]
    assert (await codec.decode([encoded]))[0] == payload

    async def roundtrip() -> list[Payload]:
        return await codec.decode(await codec.encode([payload]))

    return await _best(roundtrip, reps, rounds), encoded


def _json_payload(target_bytes: int) -> Payload:
    """Generated app bundles (distinct prompts) as one pydantic JSON payload."""
    kinds = ["a todo list", "a recipe book", "an inventory tracker", "a booking page"]
    owners = ["my climbing team", "a bike shop", "our choir", "a bakery", "the school library"]
    apps = []
    size = 0
    for i in range(1000):
        app = generate_offline(f"{kinds[i % len(kinds)]} for {owners[i // len(kinds) % 5]} #{i}")
        apps.append(app)
        size += len(app.model_dump_json())
        if size >= target_bytes:
            break
    return pydantic_data_converter.payload_converter.to_payloads([apps])[0]


async def main() -> None:
    """Measure, print a table, then the headline figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    rounds: int = args.rounds

    key = new_key()
    kid = key_id_for(key)
    codec = EncryptionCodec({kid: key}, kid, "default")
    cipher = AESGCM(key)

    ratios: dict[str, float] = {}
    print(f"{'case':<14}{'bytes':>10}{'raw MB/s':>11}{'codec MB/s':>12}{'ratio':>7}  on wire")
    for name, size in SIZES.items():
        data = os.urandom(size)
        payload = Payload(metadata={"encoding": b"binary/plain"}, data=data)
        reps = _repetitions(size)
        raw_s = await _raw_roundtrip_s(cipher, data, reps, rounds)
        codec_s, encoded = await _codec_roundtrip_s(codec, payload, reps, rounds)
        ratios[name] = raw_s / codec_s
        print(
            f"{'random ' + name:<14}{size:>10}{size / raw_s / MB:>11.0f}"
            f"{size / codec_s / MB:>12.0f}{ratios[name]:>7.2f}  "
            f"{len(encoded.data)} B, {encoded.metadata[META_COMPRESSION].decode()}"
        )

    json_payload = _json_payload(1024 * 1024)
    json_size = json_payload.ByteSize()
    reps = _repetitions(json_size) // 4  # compression makes each call ~10x slower
    raw_s = await _raw_roundtrip_s(cipher, json_payload.data, reps, rounds)
    json_s, encoded = await _codec_roundtrip_s(codec, json_payload, reps, rounds)
    wire_share = len(encoded.data) / json_size
    print(
        f"{'json bundles':<14}{json_size:>10}{json_size / raw_s / MB:>11.0f}"
        f"{json_size / json_s / MB:>12.0f}{raw_s / json_s:>7.2f}  "
        f"{len(encoded.data)} B, {encoded.metadata[META_COMPRESSION].decode()}"
    )

    small = Payload(metadata={"encoding": b"json/plain"}, data=b"x" * SMALL_BYTES)
    small_s, _ = await _codec_roundtrip_s(codec, small, 20_000, rounds)
    raw_small_s = await _raw_roundtrip_s(cipher, small.data, 20_000, rounds)
    print(
        f"small payload ({SMALL_BYTES} B): codec {small_s * 1e6:.1f} us, "
        f"raw AES-GCM {raw_small_s * 1e6:.1f} us per encode+decode"
    )

    for name, ratio in ratios.items():
        print(f"codec_ratio_{name}: {ratio:.2f}")
    print(f"codec_json_mb_s: {json_size / json_s / MB:.0f}")
    print(f"codec_json_wire_share: {wire_share:.2f}")
    print(f"codec_small_payload_us: {small_s * 1e6:.1f}")


if __name__ == "__main__":
    asyncio.run(main())

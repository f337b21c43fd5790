"""The marker a worker puts in place of a payload it could not decrypt.

A refused payload is empty: none of the original's data or metadata survives,
only why it was refused. Its encoding (:data:`REFUSED_ENCODING`) is one no
converter handles, so it can never be read as a value; workflow code that takes
a signal as ``RawValue`` asks :func:`refusal_reason` and records the refusal.
Pure functions over the payload protobuf: workflows may import this module.
"""

from __future__ import annotations

from temporalio.api.common.v1 import Payload

__all__ = ["REFUSED_ENCODING", "refusal_reason", "refused_payload"]

REFUSED_ENCODING = b"binary/mb-refused"
"""The encoding of a payload the worker's codec refused (no converter handles it)."""

META_REASON = "mb-refused-reason"
_MAX_REASON_BYTES = 300


def refused_payload(reason: str) -> Payload:
    """An empty payload that stands for one the codec refused, saying why."""
    return Payload(
        metadata={
            "encoding": REFUSED_ENCODING,
            META_REASON: reason.encode("utf-8", "replace")[:_MAX_REASON_BYTES],
        }
    )


def refusal_reason(payload: Payload) -> str | None:
    """Why the worker's codec refused ``payload``; None for any other payload."""
    if payload.metadata.get("encoding") != REFUSED_ENCODING:
        return None
    reason = payload.metadata.get(META_REASON, b"")
    return reason.decode("utf-8", "replace") or "the payload could not be decoded"

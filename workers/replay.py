"""Replaying workflow histories against the current workflow code.

A history recorded by an older version of the code must replay without a
non-determinism error; if it does not, the change needs ``workflow.patched``.

An encrypted history is decoded the way the workers decoded it: a payload they
refused (a signal sent in clear, a tampered ciphertext) is refused again, so the
replay sees what the workflow saw. Histories recorded before encryption are
read as they are.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass

from temporalio.client import Client, WorkflowHistory
from temporalio.worker import Replayer

from temporal import names
from temporal.codec import ENCODING, EncryptionCodec
from temporal.converter import data_converter
from temporal.refusing_codec import worker_data_converter
from workflows.registry import ALL_WORKFLOWS


@dataclass(frozen=True)
class ReplayOutcome:
    """One history's replay: ``error`` is None when it replayed cleanly."""

    workflow_id: str
    run_id: str
    error: str | None


def replayer(codec: EncryptionCodec | None = None, *, as_worker: bool = False) -> Replayer:
    """A replayer for every workflow this project defines (``codec``: encrypted histories;
    ``as_worker``: refuse undecodable payloads as the workers do)."""
    converter = data_converter(codec)
    return Replayer(
        workflows=list(ALL_WORKFLOWS),
        data_converter=worker_data_converter(converter) if as_worker else converter,
    )


def _encrypted(history: WorkflowHistory) -> bool:
    """Whether the workflow was started with an encrypted input (after encryption began)."""
    started = history.events[0].workflow_execution_started_event_attributes
    return any(p.metadata.get("encoding") == ENCODING for p in started.input.payloads)


async def replay(
    histories: AsyncIterator[WorkflowHistory] | Iterable[WorkflowHistory],
    codec: EncryptionCodec | None = None,
    *,
    worker_codec: EncryptionCodec | None = None,
) -> list[ReplayOutcome]:
    """Replay every history; collects failures instead of stopping at the first.

    ``worker_codec`` (the workers' codec) decodes encrypted histories as the workers
    did; ``codec`` reads the others.
    """
    reading = replayer(codec)
    working = None if worker_codec is None else replayer(worker_codec, as_worker=True)
    outcomes: list[ReplayOutcome] = []

    async def as_async() -> AsyncIterator[WorkflowHistory]:
        if isinstance(histories, AsyncIterator):
            async for history in histories:
                yield history
        else:
            for history in histories:
                yield history

    async for history in as_async():
        chosen = working if working is not None and _encrypted(history) else reading
        result = await chosen.replay_workflow(history, raise_on_replay_failure=False)
        error = result.replay_failure
        outcomes.append(
            ReplayOutcome(
                workflow_id=history.workflow_id,
                run_id=history.run_id,
                error=None if error is None else f"{type(error).__name__}: {error}",
            )
        )
    return outcomes


def server_histories(
    client: Client, workflow_id: str | None = None, *, limit: int = 1000
) -> AsyncIterator[WorkflowHistory]:
    """Histories of one workflow id (every run) or of all our workflows."""
    if workflow_id is not None:
        query = f"WorkflowId = '{_quote(workflow_id)}'"
    else:
        query = (
            f"WorkflowType = '{names.APP_WORKFLOW_TYPE}' "
            f"OR WorkflowType = '{names.DEPLOYMENT_WORKFLOW_TYPE}'"
        )
    return client.list_workflows(query, limit=limit).map_histories()


def _quote(value: str) -> str:
    if "'" in value or "\\" in value:
        raise ValueError("workflow ids with quotes or backslashes cannot be queried")
    return value

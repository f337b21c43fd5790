"""Replaying workflow histories against the current workflow code.

A history recorded by an older version of the code must replay without a
non-determinism error; if it does not, the change needs ``workflow.patched``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass

from temporalio.client import Client, WorkflowHistory
from temporalio.worker import Replayer

from temporal import names
from temporal.codec import EncryptionCodec
from temporal.converter import data_converter
from workflows.registry import ALL_WORKFLOWS


@dataclass(frozen=True)
class ReplayOutcome:
    """One history's replay: ``error`` is None when it replayed cleanly."""

    workflow_id: str
    run_id: str
    error: str | None


def replayer(codec: EncryptionCodec | None = None) -> Replayer:
    """A replayer for every workflow this project defines (``codec``: encrypted histories)."""
    return Replayer(
        workflows=list(ALL_WORKFLOWS),
        data_converter=data_converter(codec),
    )


async def replay(
    histories: AsyncIterator[WorkflowHistory] | Iterable[WorkflowHistory],
    codec: EncryptionCodec | None = None,
) -> list[ReplayOutcome]:
    """Replay every history; collects failures instead of stopping at the first."""
    outcomes: list[ReplayOutcome] = []

    async def as_async() -> AsyncIterator[WorkflowHistory]:
        if isinstance(histories, AsyncIterator):
            async for history in histories:
                yield history
        else:
            for history in histories:
                yield history

    async with replayer(codec).workflow_replay_iterator(as_async()) as results:
        async for result in results:
            error = result.replay_failure
            outcomes.append(
                ReplayOutcome(
                    workflow_id=result.history.workflow_id,
                    run_id=result.history.run_id,
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

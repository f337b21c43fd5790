"""Publishes this worker's waiting QA gates (and their positions) to PostgreSQL, where
the API and ``mb deploy`` read them: at once when the queue moves (at most every
``min_interval_s``), and every ``refresh_s`` so the rows stay fresh while it lives."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from activities.qa_admission import QAAdmission
from store.qa_queue import QAQueue

log = logging.getLogger(__name__)


async def publish_positions(
    admission: QAAdmission,
    queue: QAQueue,
    worker: str,
    stop: asyncio.Event,
    *,
    refresh_s: float = 5.0,
    min_interval_s: float = 0.5,
) -> None:
    """Until ``stop`` (or cancelled); then this worker's rows are cleared."""
    try:
        while not stop.is_set():
            admission.changed.clear()
            try:
                await queue.publish(worker, admission.positions())
            except Exception:  # the database is away: the next change or refresh retries
                log.warning("could not publish the QA queue's positions", exc_info=True)
            await asyncio.sleep(min_interval_s)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(_first(admission.changed, stop), refresh_s)
    finally:
        with contextlib.suppress(Exception):
            await queue.publish(worker, [])


async def _first(*events: asyncio.Event) -> None:
    waits = [asyncio.create_task(e.wait()) for e in events]
    try:
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waits:
            w.cancel()

"""Waiting QA gates' positions in PostgreSQL: each worker replaces its own rows, a dead
worker's rows are ignored, and the publisher keeps them in step with the admission
(real PostgreSQL)."""

from __future__ import annotations

import asyncio
import time

import pytest

from activities.qa_admission import QAAdmission
from schemas.qa import QAGateTicket, QueuedGate
from store.db import Database
from store.qa_queue import STALE_AFTER_S, QAQueue
from workers.qa_queue_publisher import publish_positions

pytestmark = pytest.mark.timeout(60)


def gate(deployment_id: str, position: int, *, app_id: str = "app") -> QueuedGate:
    return QueuedGate(app_id=app_id, deployment_id=deployment_id, owner_id="o", position=position)


async def test_a_worker_replaces_its_own_rows_only(db: Database) -> None:
    queue = QAQueue(db)
    await queue.publish("w1", [gate("d1", 1), gate("d2", 2)])
    await queue.publish("w2", [gate("d3", 1)])

    await queue.publish("w1", [gate("d2", 1)])  # d1 was admitted: d2 moved up

    assert await queue.position("app", "d1") is None
    assert await queue.position("app", "d2") == 1
    assert await queue.position("app", "d3") == 1
    assert await queue.position("other-app", "d2") is None  # same id, another app
    await queue.publish("w1", [])
    assert await queue.position("app", "d2") is None


async def test_a_gate_split_across_workers_shows_its_farthest_place(db: Database) -> None:
    queue = QAQueue(db)
    await queue.publish("w1", [gate("d1", 2)])
    await queue.publish("w2", [gate("x", 1), gate("y", 2), gate("d1", 3)])
    assert await queue.position("app", "d1") == 3


async def test_rows_a_dead_worker_stopped_refreshing_are_ignored(db: Database) -> None:
    queue = QAQueue(db)
    await queue.publish("dead", [gate("d1", 1)])
    async with db.connection() as conn:
        await conn.execute(
            "UPDATE qa_queue_positions SET updated_at = now() - make_interval(secs => %s)",
            (STALE_AFTER_S + 1,),
        )
    assert await queue.position("app", "d1") is None


async def _until_position(queue: QAQueue, deployment_id: str, expected: int | None) -> None:
    deadline = time.monotonic() + 10
    while await queue.position("app", deployment_id) != expected:
        assert time.monotonic() < deadline, f"{deployment_id} never at {expected}"
        await asyncio.sleep(0.05)


async def test_the_publisher_follows_the_queue_and_clears_it_on_stop(db: Database) -> None:
    queue = QAQueue(db)
    admission = QAAdmission(1, linger_s=0)
    stop = asyncio.Event()
    publisher = asyncio.create_task(
        publish_positions(admission, queue, "w1", stop, refresh_s=0.2, min_interval_s=0.01)
    )
    release = asyncio.Event()

    async def stage(name: str) -> None:
        ticket = QAGateTicket(app_id="app", deployment_id=name, owner_id="o")
        async with admission.admitted(ticket):
            await release.wait()

    first = asyncio.create_task(stage("d1"))
    await asyncio.sleep(0.01)
    waiting = asyncio.create_task(stage("d2"))

    await _until_position(queue, "d2", 1)
    assert await queue.position("app", "d1") is None  # running, not waiting
    release.set()
    await asyncio.gather(first, waiting)

    await _until_position(queue, "d2", None)
    release.clear()
    third = asyncio.create_task(stage("d3"))
    await asyncio.sleep(0.01)
    fourth = asyncio.create_task(stage("d4"))

    await _until_position(queue, "d4", 1)
    stop.set()
    await publisher
    assert await queue.position("app", "d4") is None  # a stopped worker leaves no rows
    release.set()
    await asyncio.gather(third, fourth)

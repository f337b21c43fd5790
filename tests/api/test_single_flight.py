"""Concurrent identical reads share one call; nothing is cached past it."""

from __future__ import annotations

import asyncio

import pytest

from api.single_flight import SingleFlight


async def test_concurrent_callers_share_one_call_and_later_ones_call_again() -> None:
    flight: SingleFlight[str, int] = SingleFlight()
    calls = 0
    release = asyncio.Event()

    async def query() -> int:
        nonlocal calls
        calls += 1
        mine = calls
        await release.wait()
        return mine

    waiting = [asyncio.create_task(flight.run("app-a", query)) for _ in range(10)]
    other = asyncio.create_task(flight.run("app-b", query))
    await asyncio.sleep(0.01)
    release.set()
    assert await asyncio.gather(*waiting) == [1] * 10
    assert await other == 2  # another key has its own call
    assert await flight.run("app-a", query) == 3  # no cache: a new call once the last ended


async def test_a_failure_reaches_every_joiner_and_is_not_remembered() -> None:
    flight: SingleFlight[str, int] = SingleFlight()
    release = asyncio.Event()

    async def failing() -> int:
        await release.wait()
        raise LookupError("no such app")

    tasks = [asyncio.create_task(flight.run("k", failing)) for _ in range(3)]
    await asyncio.sleep(0.01)
    release.set()
    for task in tasks:
        with pytest.raises(LookupError, match="no such app"):
            await task

    async def fine() -> int:
        return 7

    assert await flight.run("k", fine) == 7


async def test_a_cancelled_joiner_does_not_cancel_the_others() -> None:
    flight: SingleFlight[str, int] = SingleFlight()
    release = asyncio.Event()

    async def query() -> int:
        await release.wait()
        return 5

    first = asyncio.create_task(flight.run("k", query))
    joiner = asyncio.create_task(flight.run("k", query))
    await asyncio.sleep(0.01)
    joiner.cancel()
    release.set()
    assert await first == 5

"""QA gate admission: whole gates, FIFO per owner, round-robin across owners, capacity,
cancelled waiters, positions (the controller itself, on asyncio)."""

from __future__ import annotations

import asyncio
import os
import random
from dataclasses import dataclass, field

import pytest

from activities.qa_admission import QAAdmission, activity_slots, gate_capacity
from schemas.qa import QAGateTicket
from schemas.settings import Settings

pytestmark = pytest.mark.timeout(60)


def ticket(name: str, *, stages: int = 1, attempt: int = 1) -> QAGateTicket:
    """A gate named ``<owner letter><n>``: ``A3`` is owner A's."""
    return QAGateTicket(
        app_id=f"app-{name}",
        deployment_id=name,
        owner_id=name[0],
        attempt=attempt,
        stages=stages,
    )


async def settle() -> None:
    for _ in range(10):
        await asyncio.sleep(0)


@dataclass
class Burst:
    """Stages that enter the admission and stay until the test lets their gate finish."""

    admission: QAAdmission
    order: list[str] = field(default_factory=list)  # gates in the order they were admitted
    inside: dict[str, int] = field(default_factory=dict)  # gate -> its stages running now
    widest: dict[str, int] = field(default_factory=dict)  # gate -> most stages at once
    peak_gates: int = 0
    finish: dict[str, asyncio.Event] = field(default_factory=dict)
    tasks: dict[str, list[asyncio.Task[None]]] = field(default_factory=dict)

    def submit(self, t: QAGateTicket, stages: int | None = None) -> None:
        self.finish.setdefault(t.deployment_id, asyncio.Event())
        for _ in range(t.stages if stages is None else stages):
            task = asyncio.create_task(self._stage(t))
            self.tasks.setdefault(t.deployment_id, []).append(task)

    async def _stage(self, t: QAGateTicket) -> None:
        gate = t.deployment_id
        async with self.admission.admitted(t):
            if gate not in self.order:
                self.order.append(gate)
            self.inside[gate] = self.inside.get(gate, 0) + 1
            self.widest[gate] = max(self.widest.get(gate, 0), self.inside[gate])
            self.peak_gates = max(self.peak_gates, sum(1 for n in self.inside.values() if n))
            try:
                await self.finish[gate].wait()
            finally:
                self.inside[gate] -= 1

    async def done(self, gate: str) -> None:
        self.finish[gate].set()
        await asyncio.gather(*self.tasks[gate], return_exceptions=True)
        await settle()

    def running(self) -> list[str]:
        return [g for g, n in self.inside.items() if n]

    async def drain(self) -> None:
        """Let the running gates finish, one by one, until none is left."""
        while self.running():
            await self.done(self.running()[0])


async def test_gates_of_one_owner_are_admitted_first_in_first_out() -> None:
    burst = Burst(QAAdmission(1, linger_s=0))
    for i in range(5):
        burst.submit(ticket(f"A{i}"))
        await settle()
    for i in range(5):
        assert burst.running() == [f"A{i}"]
        await burst.done(f"A{i}")
    assert burst.order == ["A0", "A1", "A2", "A3", "A4"]


async def test_a_later_owner_is_admitted_after_at_most_one_gate_of_a_burst() -> None:
    burst = Burst(QAAdmission(1, linger_s=0))
    for i in range(10):
        burst.submit(ticket(f"A{i}"))
    await settle()
    burst.submit(ticket("B0"))  # B submits after A's ten are queued
    await settle()
    admitted_before_b = len(burst.order)
    while "B0" not in burst.order:
        await burst.done(burst.running()[0])
    a_gates_after_b_submitted = burst.order.index("B0") - admitted_before_b
    assert a_gates_after_b_submitted <= 1, burst.order
    await burst.drain()
    assert sorted(burst.order) == sorted(burst.finish)


async def test_owners_with_bursts_take_turns() -> None:
    burst = Burst(QAAdmission(1, linger_s=0))
    for i in range(6):
        burst.submit(ticket(f"A{i}"))
    await settle()
    for i in range(3):
        burst.submit(ticket(f"B{i}"))
    await settle()
    await burst.drain()
    assert burst.order == ["A0", "B0", "A1", "B1", "A2", "B2", "A3", "A4", "A5"]


async def test_capacity_is_never_exceeded_and_a_gate_runs_whole() -> None:
    rng = random.Random(7)
    admission = QAAdmission(2, linger_s=0.01)
    burst = Burst(admission)
    names = [f"{owner}{i}" for owner in "ABC" for i in range(5)]
    rng.shuffle(names)
    for name in names:
        burst.submit(ticket(name, stages=5))
        await asyncio.sleep(rng.random() / 200)
    while len(burst.order) < len(names) or burst.running():
        await asyncio.sleep(rng.random() / 100)
        if burst.running():
            await burst.done(rng.choice(burst.running()))
    assert burst.peak_gates == 2
    assert all(width == 5 for width in burst.widest.values()), burst.widest
    assert admission.running == 0 and admission.positions() == []


async def test_stages_of_an_admitted_gate_join_it_while_other_gates_wait() -> None:
    burst = Burst(QAAdmission(1, linger_s=0))
    late = ticket("A0", stages=5)
    burst.submit(late, stages=3)
    await settle()
    burst.submit(ticket("B0", stages=5))
    await settle()
    burst.submit(late, stages=2)  # the gate's last two stages arrive after B queued
    await settle()
    assert burst.inside == {"A0": 5}
    await burst.done("A0")
    assert burst.inside["B0"] == 5


async def test_a_gate_whose_other_stages_never_come_is_released_after_the_linger() -> None:
    admission = QAAdmission(1, linger_s=0.05)
    burst = Burst(admission)
    burst.submit(ticket("A0", stages=5), stages=2)  # three stages went to another worker
    burst.submit(ticket("B0", stages=1))
    await settle()
    await burst.done("A0")
    assert burst.running() == []  # the slot is kept a moment for a late stage
    await asyncio.sleep(0.2)
    assert burst.running() == ["B0"]


async def test_cancelled_waiters_leave_the_queue_and_hold_no_slot() -> None:
    admission = QAAdmission(1, linger_s=0)
    burst = Burst(admission)
    burst.submit(ticket("A0"))
    burst.submit(ticket("B0", stages=2))
    burst.submit(ticket("C0"))
    await settle()
    assert [g.deployment_id for g in admission.positions()] == ["B0", "C0"]
    for task in burst.tasks["B0"]:
        task.cancel()  # the workflow was cancelled, or the stage timed out
    await settle()
    assert [(g.deployment_id, g.position) for g in admission.positions()] == [("C0", 1)]
    await burst.done("A0")
    assert burst.running() == ["C0"]
    assert admission.running == 1
    await burst.done("C0")
    assert admission.running == 0


async def test_a_waiter_cancelled_just_as_its_gate_is_admitted_frees_the_slot() -> None:
    admission = QAAdmission(1, linger_s=0)
    burst = Burst(admission)
    async with admission.admitted(ticket("A0")):
        burst.submit(ticket("B0"))
        burst.submit(ticket("C0"))
        await settle()
    # Leaving A0 admitted B0; cancel B0 before its task ever resumes.
    for task in burst.tasks["B0"]:
        task.cancel()
    await settle()
    assert "B0" not in burst.order
    assert burst.running() == ["C0"]
    assert admission.running == 1


async def test_positions_follow_the_admission_order_and_move() -> None:
    admission = QAAdmission(1, linger_s=0)
    burst = Burst(admission)
    for name in ("A0", "A1", "A2"):
        burst.submit(ticket(name))
    await settle()
    burst.submit(ticket("B0"))
    await settle()
    assert [(g.deployment_id, g.owner_id, g.position) for g in admission.positions()] == [
        ("B0", "B", 1),
        ("A1", "A", 2),
        ("A2", "A", 3),
    ]
    admission.changed.clear()
    await burst.done("A0")
    assert admission.changed.is_set()
    assert [(g.deployment_id, g.position) for g in admission.positions()] == [
        ("A1", 1),
        ("A2", 2),
    ]
    assert burst.running() == ["B0"]


async def test_repair_attempts_of_one_deployment_are_separate_gates() -> None:
    admission = QAAdmission(1, linger_s=0)
    burst = Burst(admission)
    burst.submit(ticket("A0"))
    await settle()
    second = QAGateTicket(app_id="app-A0", deployment_id="A0", owner_id="A", attempt=2)
    with pytest.raises(TimeoutError):  # the second attempt waits for the first
        async with asyncio.timeout(0.1), admission.admitted(second):
            pass
    assert admission.positions() == []
    assert burst.running() == ["A0"]


def test_capacity_comes_from_the_cores_unless_set() -> None:
    assert gate_capacity(Settings(qa_gates=3)) == 3
    assert gate_capacity(Settings(qa_cores_per_gate=10_000)) == 1
    cores = len(os.sched_getaffinity(0))
    assert gate_capacity(Settings(qa_cores_per_gate=1)) == cores
    assert activity_slots(Settings(qa_gates=2, qa_waiting_gates=10)) == 60
    assert activity_slots(Settings(qa_admission=False, qa_concurrency=6)) == 6
    with pytest.raises(ValueError, match="at least 1"):
        QAAdmission(0)

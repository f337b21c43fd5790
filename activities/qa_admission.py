"""Admission of QA gates to the cores a worker has.

A burst of deployments that all run their QA stages at once shares the CPU so
evenly that every one of them finishes late. Instead, a worker runs at most
``capacity`` gates (all the stages of one deployment's gate, admitted as a
unit) and the others wait, without holding a slot: FIFO within an owner,
round-robin across owners (the owner served longest ago goes next), so one
user's burst cannot starve another user's deployment.

The state is this process's own: a worker that dies frees its admissions with
it (Temporal retries its stages elsewhere once their heartbeats stop).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
from collections import deque
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass

from schemas.qa import GATE_STAGES, QAGateTicket, QueuedGate
from schemas.settings import Settings


def gate_capacity(settings: Settings) -> int:
    """Gates one worker runs at once: ``qa_gates``, else its usable cores divided by
    ``qa_cores_per_gate`` (at least 1)."""
    if settings.qa_gates is not None:
        return settings.qa_gates
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, (cores or 1) // settings.qa_cores_per_gate)


def activity_slots(settings: Settings) -> int:
    """QA activities one worker accepts from Temporal: every stage of the gates it runs
    and of those it holds waiting; without admission, ``qa_concurrency`` (all running)."""
    if not settings.qa_admission:
        return settings.qa_concurrency
    return (gate_capacity(settings) + settings.qa_waiting_gates) * GATE_STAGES


GateKey = tuple[str, str, int]


@dataclass(eq=False)
class _Gate:
    ticket: QAGateTicket
    seq: int
    admitted: asyncio.Future[None]
    running: int = 0  # members inside the gate now
    waiting: int = 0  # members waiting for its admission
    finished: int = 0
    linger: asyncio.TimerHandle | None = None

    @property
    def key(self) -> GateKey:
        return (self.ticket.app_id, self.ticket.deployment_id, self.ticket.attempt)


class QAAdmission:
    """Admits whole QA gates, at most ``capacity`` at once, fair across owners.

    A gate's first stage queues it; its other stages join it (waiting with it, or
    straight in once it runs). Its slot is freed when ``ticket.stages`` members
    have finished, or ``linger_s`` after its last running member left (stages of
    one gate may run on other workers, or retry later).
    """

    def __init__(self, capacity: int, *, linger_s: float = 2.0) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.capacity = capacity
        self._linger_s = linger_s
        self._gates: dict[GateKey, _Gate] = {}
        self._queues: dict[str, deque[_Gate]] = {}  # owner -> its waiting gates, FIFO
        self._served: dict[str, int] = {}  # owner -> the admission it last had
        self._admissions = itertools.count()
        self._arrivals = itertools.count()
        self._running = 0
        self.changed = asyncio.Event()  # set whenever the waiting gates' positions move

    @property
    def running(self) -> int:
        """Gates admitted and holding a slot."""
        return self._running

    @contextlib.asynccontextmanager
    async def admitted(self, ticket: QAGateTicket) -> AsyncIterator[None]:
        """Wait (cancellably) until ``ticket``'s gate is admitted, then hold it."""
        gate = self._join(ticket)
        try:
            if not gate.admitted.done():
                gate.waiting += 1
                try:
                    await asyncio.shield(gate.admitted)
                finally:
                    gate.waiting -= 1
        except BaseException:
            self._leave_waiting(gate)
            raise
        gate.running += 1
        if gate.linger is not None:
            gate.linger.cancel()
            gate.linger = None
        try:
            yield
        finally:
            gate.running -= 1
            gate.finished += 1
            self._member_done(gate)

    def positions(self) -> list[QueuedGate]:
        """The waiting gates in the order they would be admitted (the same rule, played
        forward: each simulated admission comes after every real one)."""
        queues = {owner: list(q) for owner, q in self._queues.items()}
        served = dict(self._served)
        tick = max(served.values(), default=-1) + 1
        ordered: list[QueuedGate] = []
        while queues:
            owner = self._next_owner(queues, served)
            t = queues[owner].pop(0).ticket
            if not queues[owner]:
                del queues[owner]
            served[owner] = tick
            tick += 1
            ordered.append(
                QueuedGate(
                    app_id=t.app_id,
                    deployment_id=t.deployment_id,
                    owner_id=t.owner_id,
                    position=len(ordered) + 1,
                )
            )
        return ordered

    @staticmethod
    def _next_owner(queues: Mapping[str, Sequence[_Gate]], served: Mapping[str, int]) -> str:
        """The owner served longest ago (never: first), ties to the earliest waiting gate."""
        return min(queues, key=lambda owner: (served.get(owner, -1), queues[owner][0].seq))

    def _join(self, ticket: QAGateTicket) -> _Gate:
        key = (ticket.app_id, ticket.deployment_id, ticket.attempt)
        gate = self._gates.get(key)
        if gate is None:
            gate = _Gate(ticket, next(self._arrivals), asyncio.get_running_loop().create_future())
            self._gates[key] = gate
            self._queues.setdefault(ticket.owner_id, deque()).append(gate)
            self._admit()
            self.changed.set()
        return gate

    def _admit(self) -> None:
        while self._running < self.capacity and self._queues:
            owner = self._next_owner(self._queues, self._served)
            queue = self._queues[owner]
            gate = queue.popleft()
            if not queue:
                del self._queues[owner]
            self._served[owner] = next(self._admissions)
            self._running += 1
            gate.admitted.set_result(None)
            self.changed.set()

    def _leave_waiting(self, gate: _Gate) -> None:
        """A waiting member was cancelled (or timed out): a gate nobody waits for or runs
        leaves the queue, or frees its slot if it was admitted meanwhile."""
        if gate.waiting or gate.running:
            return
        if not gate.admitted.done():
            queue = self._queues[gate.ticket.owner_id]
            queue.remove(gate)
            if not queue:
                del self._queues[gate.ticket.owner_id]
            gate.admitted.cancel()
            del self._gates[gate.key]
            self._prune(gate.ticket.owner_id)
            self.changed.set()
        elif gate.linger is None:
            self._release(gate)

    def _member_done(self, gate: _Gate) -> None:
        if gate.running or gate.waiting:
            return
        if gate.finished >= gate.ticket.stages or self._linger_s <= 0:
            self._release(gate)
        else:
            gate.linger = asyncio.get_running_loop().call_later(self._linger_s, self._release, gate)

    def _release(self, gate: _Gate) -> None:
        if self._gates.get(gate.key) is not gate:
            return  # released already
        if gate.linger is not None:
            gate.linger.cancel()
            gate.linger = None
        del self._gates[gate.key]
        self._running -= 1
        self._prune(gate.ticket.owner_id)
        self._admit()
        self.changed.set()

    def _prune(self, owner: str) -> None:
        """Forget an owner's last admission once it has nothing waiting or running."""
        if owner in self._queues:
            return
        if any(g.ticket.owner_id == owner for g in self._gates.values()):
            return
        self._served.pop(owner, None)

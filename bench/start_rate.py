"""Sustained start rate of trivial pipelines (the omes throughput-stress idea), on loopback.

    .venv/bin/python -m bench.start_rate [--seconds 600] [--rate 20]

A Temporal dev server and one in-process worker. For ``--seconds`` the bench
starts ``--rate`` trivial pipelines a second: a workflow that runs one
activity on a pydantic model and returns it. It then waits for the backlog to
drain (bounded) and checks that started == completed == what visibility counts.
It does so twice in the same run: first with the SDK's plain pydantic
converter (the baseline), then with our encrypted converter (AES-256-GCM codec,
as production runs), each on its own task queue.

Reported per phase: pipelines started, completed and counted by visibility,
the backlog left, p50/p95 schedule-to-start of the activity (from the
activity's own scheduled time) and the worker's CPU time per pipeline; the
headline ratio is our CPU per pipeline over the baseline's.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from temporalio import activity, workflow
from temporalio.client import Client, WorkflowHandle
from temporalio.common import RetryPolicy
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter
from temporalio.service import RPCError
from temporalio.worker import Worker

from temporal.codec import EncryptionCodec, key_id_for, new_key
from temporal.converter import data_converter
from temporal.devserver import DevServer, free_loopback_port

RESULT_POLLS = 200  # results awaited at once when draining (not one long poll per pipeline)


class Step(BaseModel):
    """What a trivial pipeline carries: an id and a little text, like a stage's input."""

    pipeline_id: str
    note: str


@dataclass
class Probe:
    """Schedule-to-start latencies seen by the activity, in seconds."""

    waits: list[float] = field(default_factory=list)


PROBE = Probe()


@activity.defn(name="bench_touch")
async def touch(step: Step) -> Step:
    """The one activity: record how long it waited to start, hand the step back."""
    info = activity.info()
    PROBE.waits.append((datetime.now(UTC) - info.current_attempt_scheduled_time).total_seconds())
    return step


@workflow.defn(name="BenchTrivialPipeline", sandboxed=False)
class TrivialPipeline:
    """Workflow -> one activity -> result: the smallest pipeline."""

    @workflow.run
    async def run(self, step: Step) -> Step:
        result: Step = await workflow.execute_activity(
            touch,
            step,
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=RetryPolicy(maximum_attempts=3),
        )
        return result


@dataclass
class Phase:
    """What one phase measured."""

    started: int
    completed: int
    counted: int
    backlog: int
    waits: list[float]
    cpu_s: float

    def p(self, q: float) -> float:
        """The q-quantile of schedule-to-start, in milliseconds."""
        if not self.waits:
            return float("nan")
        return statistics.quantiles(self.waits, n=100)[int(q * 100) - 1] * 1000


async def _phase(
    target: str, converter: DataConverter, queue: str, seconds: float, rate: float
) -> Phase:
    client = await Client.connect(target, data_converter=converter)
    PROBE.waits = []
    handles = []
    cpu_before = time.process_time()
    async with Worker(
        client,
        task_queue=queue,
        workflows=[TrivialPipeline],
        activities=[touch],
        max_concurrent_activities=64,
        max_concurrent_workflow_tasks=64,
    ):
        loop = asyncio.get_running_loop()
        begin = loop.time()
        n = 0
        while (now := loop.time()) - begin < seconds:
            due = int((now - begin) * rate) + 1
            while n < due:
                step = Step(pipeline_id=uuid.uuid4().hex, note="a todo list for my climbing team")
                handles.append(
                    await client.start_workflow(
                        TrivialPipeline.run, step, id=f"{queue}-{n}", task_queue=queue
                    )
                )
                n += 1
            await asyncio.sleep(max(0.0, begin + n / rate - loop.time()))
        gate = asyncio.Semaphore(RESULT_POLLS)

        async def finished(handle: WorkflowHandle[Any, Step]) -> None:
            async with gate:
                for attempt in range(3):  # a long poll can time out under load: ask again
                    try:
                        await handle.result()
                        return
                    except RPCError:
                        if attempt == 2:
                            raise

        drained = [asyncio.create_task(finished(h)) for h in handles]
        done, pending = await asyncio.wait(drained, timeout=max(60.0, seconds / 2))
        for task in pending:
            task.cancel()
        completed = sum(1 for task in done if task.exception() is None)
        errors: Counter[str] = Counter()
        for task in done:
            if (err := task.exception()) is not None:
                errors[f"{type(err).__name__}: {err}"] += 1
        for error, count in errors.most_common(3):
            print(f"  {queue}: {count} results failed: {error[:200]}")
        cpu_s = time.process_time() - cpu_before
    counted = 0
    for _ in range(50):  # visibility is eventually consistent
        counted = (
            await client.count_workflows(f"TaskQueue = '{queue}' AND ExecutionStatus = 'Completed'")
        ).count
        if counted >= completed:
            break
        await asyncio.sleep(0.2)
    return Phase(
        started=len(handles),
        completed=completed,
        counted=counted,
        backlog=len(handles) - completed,
        waits=list(PROBE.waits),
        cpu_s=cpu_s,
    )


async def main(seconds: float, rate: float) -> int:
    """Both phases on one dev server; prints a report and the figure lines."""
    with tempfile.TemporaryDirectory() as tmp:
        dev = DevServer(
            Path(tmp) / "temporal.sqlite",
            Path(tmp) / "temporal.log",
            port=free_loopback_port(),
            ui_port=free_loopback_port(),
        )
        await dev.start()
        try:
            key = new_key()
            codec = EncryptionCodec({key_id_for(key): key}, key_id_for(key), "default")
            ours = data_converter(codec)
            base = await _phase(dev.target, pydantic_data_converter, "plain", seconds, rate)
            enc = await _phase(dev.target, ours, "encrypted", seconds, rate)
        finally:
            await dev.stop()
    for name, phase in (("plain converter", base), ("encrypted (ours)", enc)):
        print(
            f"{name}: started {phase.started}, completed {phase.completed}, visibility"
            f" {phase.counted}, backlog {phase.backlog}; schedule-to-start p50"
            f" {phase.p(0.5):.1f} ms p95 {phase.p(0.95):.1f} ms;"
            f" worker CPU {phase.cpu_s / max(phase.completed, 1) * 1000:.2f} ms/pipeline"
        )
    consistent = all(p.started == p.completed == p.counted and p.backlog == 0 for p in (base, enc))
    print(f"start_rate_seconds: {seconds:.0f}")
    print(f"start_rate_per_s: {enc.started / seconds:.1f}")
    print(f"start_rate_started: {enc.started}")
    print(f"start_rate_completed: {enc.completed}")
    print(f"start_rate_visibility_count: {enc.counted}")
    print(f"start_rate_backlog_end: {enc.backlog}")
    print(f"start_rate_p95_schedule_to_start_ms: {enc.p(0.95):.1f}")
    print(f"start_rate_plain_p95_schedule_to_start_ms: {base.p(0.95):.1f}")
    cpu_ratio = (enc.cpu_s / max(enc.completed, 1)) / (base.cpu_s / max(base.completed, 1))
    print(f"start_rate_cpu_vs_plain_ratio: {cpu_ratio:.2f}")
    return 0 if consistent else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=600.0, help="per phase (default 10 min)")
    parser.add_argument("--rate", type=float, default=20.0, help="pipelines started per second")
    args = parser.parse_args()
    raise SystemExit(asyncio.run(main(args.seconds, args.rate)))

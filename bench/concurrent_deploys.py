"""Concurrent deployments of blueprint apps, on one worker and on two (scale-out).

    .venv/bin/python -m bench.concurrent_deploys [--sizes 5 10 20] [--workers 1 2]

The real stack: a Temporal dev server and embedded PostgreSQL in this process,
and each worker an ``mb worker`` process of its own, as a host would run it
(its own data directory and runtime host, the same keys, database and
Temporal). For each worker count and each N, N apps are deployed at once, one
per blueprint prompt in turn, each through the whole pipeline (moderation,
generation, the five-stage QA gate, start, health, switch, watch); then they
are retired through their workflows before the next round.

Reported per round: deployments that went live, deployments per minute
(live / the round's wall time), p50/p95 latency from signal to result, and
the workers' peak memory: the worker process's own high-water mark (VmHWM)
and the peak, sampled every 0.5 s, of the worker with everything it spawned
(QA sandboxes and live apps included). The headline scale-out ratio is two
workers' deployments per minute over one worker's at the largest N.

Both workers run on this machine: its cores are shared, so the ratio shows
what a second worker adds here (the QA gate's sandboxes already use every
core from one worker), not what a second machine would add.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client

from activities.generation import generate_offline
from bench import ADVISORY_SNAPSHOT, deployment_result, mb_env, stack_settings
from bench.blueprints_gate import PROMPTS
from cli.endpoints import Endpoints
from cli.stack import backends
from pipeline.operations import request_deployment, request_retire
from runtime.envs import EnvBuilder
from schemas.deployment import DeploymentResult, DeployRequest, RetireRequest
from schemas.settings import Settings
from store.key_rings import master_key_ring, owner_keys
from temporal import names
from temporal.devserver import free_loopback_port
from workers.wiring import evidence_keys

OWNER = "bench"


def _status_kib(pid: int, field_name: str) -> int:
    """One ``Vm*`` line of /proc/<pid>/status in KiB (0 once the process is gone)."""
    try:
        status = Path(f"/proc/{pid}/status").read_bytes()  # the Name line is any bytes
    except OSError:
        return 0
    for line in status.splitlines():
        if line.startswith(f"{field_name}:".encode()):
            return int(line.split()[1])
    return 0


def _children(pid: int) -> list[int]:
    found: list[int] = []
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            found += [int(c) for c in (task / "children").read_text().split()]
    except OSError:
        pass
    return found


def tree_rss_kib(pid: int) -> int:
    """Resident memory of ``pid`` and all its descendants, in KiB."""
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        total += _status_kib(current, "VmRSS")
        todo += _children(current)
    return total


@dataclass
class WorkerProcess:
    """One ``mb worker`` process and what its memory did."""

    host: str
    proc: subprocess.Popen[bytes]
    peak_tree_kib: int = 0

    def reset_peaks(self) -> None:
        """Start a round's peaks afresh (writing 5 to clear_refs resets VmHWM)."""
        self.peak_tree_kib = 0
        with contextlib.suppress(OSError):
            Path(f"/proc/{self.proc.pid}/clear_refs").write_text("5")

    def sample(self) -> None:
        """Fold the current resident memory of the worker's tree into its peak."""
        self.peak_tree_kib = max(self.peak_tree_kib, tree_rss_kib(self.proc.pid))

    @property
    def hwm_kib(self) -> int:
        """The worker process's own peak resident memory (the kernel's high-water mark)."""
        return _status_kib(self.proc.pid, "VmHWM")


@dataclass
class Round:
    """One round: N deployments at once on some workers."""

    workers: int
    size: int
    wall_s: float
    latencies: list[float] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    worker_hwm_mib: float = 0.0
    tree_peak_mib: float = 0.0

    @property
    def per_minute(self) -> float:
        """Deployments that went live per minute of the round."""
        return len(self.latencies) / self.wall_s * 60

    def quantile(self, q: float) -> float:
        """The q-quantile of signal-to-result latency, in seconds."""
        if len(self.latencies) < 2:
            return self.latencies[0] if self.latencies else float("nan")
        return statistics.quantiles(self.latencies, n=100, method="inclusive")[int(q * 100) - 1]


def worker_settings(root: Path, index: int) -> Settings:
    """A worker host's own data directory and runtime host (what its process is given)."""
    return Settings(
        data_dir=root / f"worker{index}",
        runtime_host=f"bench-{index}",
        advisory_db=ADVISORY_SNAPSHOT,
        drain_s=0,
    )


@contextmanager
def worker_processes(
    settings: list[Settings], endpoints: Endpoints, logs: Path, **extra: str
) -> Iterator[list[WorkerProcess]]:
    """Start one ``mb worker`` per settings (and ``extra`` settings, as ``mb_env`` takes
    them); SIGTERM them (then SIGKILL) on exit."""
    started: list[WorkerProcess] = []
    try:
        for s in settings:
            proc = subprocess.Popen(
                [sys.executable, "-m", "cli.main", "worker"],
                env=mb_env(
                    s.data_path,
                    temporal_address=endpoints.temporal_target,
                    database_url=endpoints.database_url,
                    runtime_host=s.runtime_host,
                    advisory_db=str(s.advisory_db),
                    drain_s=str(s.drain_s),
                    worker_metrics_port=str(free_loopback_port()),
                    **extra,
                ),
                stdout=subprocess.DEVNULL,
                stderr=(logs / f"{s.runtime_host}.log").open("wb"),
                start_new_session=True,
            )
            started.append(WorkerProcess(s.runtime_host, proc))
        yield started
    finally:
        for w in started:
            w.proc.send_signal(signal.SIGTERM)
        for w in started:
            try:
                w.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(w.proc.pid, signal.SIGKILL)
                w.proc.wait()


async def wait_polling(client: Client, hosts: list[str]) -> None:
    """Until every worker's runtime queue has a poller (the worker is up)."""
    for host in hosts:
        for _ in range(600):
            response = await client.workflow_service.describe_task_queue(
                DescribeTaskQueueRequest(
                    namespace=client.namespace,
                    task_queue=TaskQueue(name=names.runtime_task_queue(host)),
                    task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY,
                )
            )
            if response.pollers:
                break
            await asyncio.sleep(0.1)
        else:
            raise RuntimeError(f"worker {host} never polled")


async def deploy(client: Client, app_id: str, prompt: str, owner: str = OWNER) -> DeploymentResult:
    """Request one deployment of ``prompt`` and wait until it is live (raises if it failed)."""
    request = DeployRequest(request_id=uuid.uuid4().hex, owner_id=owner, prompt=prompt)
    return await deployment_result(client, await request_deployment(client, app_id, request))


async def retire(client: Client, app_ids: list[str]) -> None:
    for app_id in app_ids:
        await request_retire(
            client,
            app_id,
            RetireRequest(request_id=uuid.uuid4().hex, requested_by=OWNER, reason="bench"),
        )
    for app_id in app_ids:
        await client.get_workflow_handle(names.app_workflow_id(app_id)).result()


async def run_round(client: Client, workers: list[WorkerProcess], size: int) -> Round:
    """N deployments at once; each app retired afterwards."""
    prompts = list(PROMPTS.values())
    app_ids = [f"c{len(workers)}-{size}-{i}" for i in range(size)]
    latencies: list[float] = []
    failed: list[str] = []
    sampling = True

    async def sample() -> None:
        while sampling:
            for w in workers:
                w.sample()
            await asyncio.sleep(0.5)

    async def one(i: int) -> None:
        t0 = time.perf_counter()
        try:  # a result means the release is live; a failed deployment raises
            await deploy(client, app_ids[i], prompts[i % len(prompts)])
        except Exception as err:
            cause = getattr(err, "cause", None) or err
            failed.append(f"{app_ids[i]}: {cause}")
            return
        latencies.append(time.perf_counter() - t0)

    for w in workers:
        w.reset_peaks()
    sampler = asyncio.create_task(sample())
    begin = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(size)))
    wall = time.perf_counter() - begin
    sampling = False
    await sampler
    await retire(client, app_ids)
    return Round(
        workers=len(workers),
        size=size,
        wall_s=wall,
        latencies=latencies,
        failed=failed,
        worker_hwm_mib=max(w.hwm_kib for w in workers) / 1024,
        tree_peak_mib=max(w.peak_tree_kib for w in workers) / 1024,
    )


async def prebuild_envs(hosts: list[Settings]) -> None:
    """Every blueprint's environment, built once per worker (the envs cache is per host)."""
    requirements = {
        generate_offline(p).bundle.file("requirements.txt") or "" for p in PROMPTS.values()
    }
    for s in hosts:
        builder = EnvBuilder(s.data_path / "envs")
        for text in requirements:
            await builder.ensure(text)


async def main(sizes: list[int], worker_counts: list[int]) -> int:
    """Every (workers, N) round; prints a table and the figure lines."""
    root = Path(tempfile.mkdtemp(prefix="mb-bench-conc-"))
    root.chmod(0o755)
    base = stack_settings(root / "stack", advisory_db=ADVISORY_SNAPSHOT, drain_s=0)
    rounds: list[Round] = []
    try:
        async with backends(base) as (client, _db, endpoints):
            all_workers = [worker_settings(root, i) for i in range(max(worker_counts))]
            # Every host holds the same keys (created here first, so none makes its own):
            evidence_keys(base).check()
            owner_keys(base).get_or_create(OWNER)
            master_key_ring(base)
            for s in all_workers:
                shutil.copytree(base.data_path / "keys", s.data_path / "keys")
            await prebuild_envs(all_workers)
            for count in worker_counts:
                with worker_processes(all_workers[:count], endpoints, root) as workers:
                    await wait_polling(client, [w.host for w in workers])
                    for size in sizes:
                        r = await run_round(client, workers, size)
                        rounds.append(r)
                        print(
                            f"{count} worker(s), N={size:>2}: {len(r.latencies)}/{size} live in"
                            f" {r.wall_s:6.1f} s, {r.per_minute:5.1f}/min, p50"
                            f" {r.quantile(0.5):5.1f} s p95 {r.quantile(0.95):5.1f} s,"
                            f" worker peak {r.worker_hwm_mib:.0f} MiB"
                            f" (with its sandboxes {r.tree_peak_mib:.0f} MiB)",
                            flush=True,
                        )
                        for failure in r.failed:
                            print(f"    failed: {failure}", flush=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    for r in rounds:
        tag = f"w{r.workers}_n{r.size}"
        print(f"concurrent_{tag}_live: {len(r.latencies)}/{r.size}")
        print(f"concurrent_{tag}_per_min: {r.per_minute:.1f}")
        print(f"concurrent_{tag}_p50_s: {r.quantile(0.5):.1f}")
        print(f"concurrent_{tag}_p95_s: {r.quantile(0.95):.1f}")
        print(f"concurrent_{tag}_worker_mib: {r.worker_hwm_mib:.0f}")
        print(f"concurrent_{tag}_tree_mib: {r.tree_peak_mib:.0f}")
    largest = max(sizes)
    by = {(r.workers, r.size): r for r in rounds}
    if (1, largest) in by and (2, largest) in by:
        one, two = by[(1, largest)], by[(2, largest)]
        print(f"concurrent_largest_n: {largest}")
        print(f"concurrent_one_worker_per_min: {one.per_minute:.1f}")
        print(f"concurrent_two_workers_per_min: {two.per_minute:.1f}")
        print(f"concurrent_scale_out_ratio: {two.per_minute / one.per_minute:.2f}")
        print(f"concurrent_one_worker_p95_s: {one.quantile(0.95):.1f}")
        print(f"concurrent_one_worker_peak_mib: {one.worker_hwm_mib:.0f}")
    return 1 if any(r.failed for r in rounds) else 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[5, 10, 20])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2], choices=[1, 2])
    args = parser.parse_args()
    raise SystemExit(asyncio.run(main(args.sizes, args.workers)))

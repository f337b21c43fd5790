"""Orchestration overhead: the demo deployment through Temporal vs the same steps by hand.

    .venv/bin/python -m bench.pipeline_overhead [--prompt TEXT] [--repeat N]

Both sides run in this process, on the same machine, in the same run:

- baseline (by hand, no Temporal, no database): generate the bundle, build its
  virtualenv (fresh root, warm uv cache), run its tests 3 times in the
  sandbox, start the app in the sandbox and wait until it is healthy;
- pipeline: the real stack (Temporal dev server, embedded PostgreSQL, a
  worker in-process) deploys the same prompt with a fresh environment root,
  from the signal to the moment the release is live.

The pipeline additionally moderates, stores artifacts, switches the route
and watches the new release (3 health checks, 1 s apart) before recording it;
the second ratio leaves that deliberate watch window out.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import tempfile
import time
import uuid
from pathlib import Path

from activities.generation import generate_offline
from activities.qa.test_runs import run_tests_repeatedly
from bench import ADVISORY_SNAPSHOT, deployment_result, stack_settings
from cli.stack import backends
from pipeline.operations import request_deployment
from runtime.envs import EnvBuilder
from runtime.health import wait_healthy
from runtime.uids import UidPool
from schemas.deployment import DeploymentResult, DeployRequest, Stage
from schemas.settings import Settings
from store.bundles import bundle_hash, write_bundle
from workers.main import run_workers
from workers.wiring import sandbox_runtime

DEMO_PROMPT = "a todo list for my climbing team"


async def by_hand(settings: Settings, prompt: str) -> dict[str, float]:
    """The pipeline's essential steps, called directly."""
    times: dict[str, float] = {}
    t0 = time.perf_counter()
    bundle = generate_offline(prompt).bundle
    digest = bundle_hash(bundle)
    bundle_dir = write_bundle(bundle, settings.data_path / "bundles" / digest)
    times["generate"] = time.perf_counter() - t0

    t = time.perf_counter()
    env = await EnvBuilder(settings.data_path / "envs").ensure(
        bundle.file("requirements.txt") or ""
    )
    times["build_env"] = time.perf_counter() - t

    t = time.perf_counter()
    report = await run_tests_repeatedly(
        bundle_dir,
        env,
        runs=3,
        timeout_s=300,
        seed_base=digest,
        work_dir=settings.data_path / "qa",
        uids=UidPool.from_settings(settings),
    )
    assert report.verdict == "pass", report.reason
    times["tests_x3"] = time.perf_counter() - t

    t = time.perf_counter()
    runtime = sandbox_runtime(settings)
    info = await runtime.start(
        app_id="bench-by-hand",
        version=1,
        bundle_dir=bundle_dir,
        env=env,
        manifest=bundle.manifest,
    )
    health = await wait_healthy(info.socket_path, info.health_path, attempts=40, interval_s=0.25)
    assert health.healthy, health.detail
    times["start_app"] = time.perf_counter() - t
    times["total"] = time.perf_counter() - t0
    await runtime.stop(info.instance_id, drain_s=0)
    return times


async def through_pipeline(settings: Settings, prompt: str) -> tuple[float, DeploymentResult]:
    """The demo deployment on the real stack, from signal to live."""
    stop = asyncio.Event()
    async with backends(settings) as (client, db, _):
        workers = asyncio.create_task(run_workers(client, settings, db, stop))
        try:
            request = DeployRequest(request_id=uuid.uuid4().hex, owner_id="bench", prompt=prompt)
            t0 = time.perf_counter()
            workflow_id = await request_deployment(client, "bench-app", request)
            result = await deployment_result(client, workflow_id)
            elapsed = time.perf_counter() - t0
        finally:
            runtime = sandbox_runtime(settings)
            for instance in await runtime.instances():
                await runtime.stop(instance.instance_id, drain_s=0)
            stop.set()
            await workers
    return elapsed, result


def _settings(root: Path) -> Settings:
    return stack_settings(
        root,
        runtime_host="bench",
        drain_s=0,
        advisory_db=ADVISORY_SNAPSHOT,
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompt", default=DEMO_PROMPT)
    args = parser.parse_args()

    roots = [Path(tempfile.mkdtemp(prefix="mb-bench-")) for _ in range(2)]
    for root in roots:
        root.chmod(0o755)
    try:
        hand = await by_hand(_settings(roots[0]), args.prompt)
        total, result = await through_pipeline(_settings(roots[1]), args.prompt)
    finally:
        for root in roots:
            shutil.rmtree(root, ignore_errors=True)

    print("by hand (no Temporal):")
    for step, seconds in hand.items():
        print(f"  {step:<16} {seconds:7.2f} s")
    print("pipeline stages (workflow time):")
    for timing in result.timings:
        print(f"  {timing.stage.value:<16} {timing.seconds:7.2f} s")
    watch = sum(t.seconds for t in result.timings if t.stage is Stage.WATCHING)
    print(f"  {'signal->live':<16} {total:7.2f} s")
    for timing in result.timings:
        print(f"stage_{timing.stage.value}_s: {timing.seconds:.2f}")
    print(f"baseline_by_hand_s: {hand['total']:.2f}")
    print(f"pipeline_total_s: {total:.2f}")
    print(f"orchestration_overhead_ratio: {total / hand['total']:.2f}")
    print(f"orchestration_overhead_ratio_excl_watch: {(total - watch) / hand['total']:.2f}")
    # The pipeline's testing stage is the whole five-stage gate, the hand baseline only
    # runs the tests: compare what lies outside them (and outside the watch window).
    testing = sum(t.seconds for t in result.timings if t.stage is Stage.TESTING)
    outside = total - watch - testing
    hand_outside = hand["total"] - hand["tests_x3"]
    print(f"pipeline_outside_gate_s: {outside:.2f}")
    print(f"by_hand_outside_tests_s: {hand_outside:.2f}")
    print(f"orchestration_outside_gate_ratio: {outside / hand_outside:.2f}")


if __name__ == "__main__":
    asyncio.run(main())

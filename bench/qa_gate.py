"""The whole QA gate on the demo bundle vs the same five tools run by hand, one after another.

    .venv/bin/python -m bench.qa_gate

Same machine, same run, same bundle, warm uv cache:

- gate: :meth:`QAGate.run_all` (fresh environment root: it builds the virtualenv
  once and the five stages share it; stages run in parallel, in the sandbox);
- by hand: build the virtualenv, then, without sandbox and one after the
  other: ``pytest`` three times, a plain ``mutmut run``, the fuzz driver,
  ``bandit -r`` (CLI) and the dependency scan.

Also each stage's own wall time, measured alone. Target: gate / by hand < 1.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from activities.generation import generate_offline
from activities.qa.deps import scan_dependencies
from activities.qa.gate import QAGate
from bench import ADVISORY_SNAPSHOT
from bench.qa_fuzz import baseline_once as fuzz_by_hand
from bench.qa_mutation import plain_run as mutmut_by_hand
from runtime.envs import EnvBuilder
from schemas.settings import Settings
from store.bundles import bundle_hash, write_bundle

DEMO_PROMPT = "a todo list for my climbing team"


async def by_hand(root: Path, bundle_dir: Path, requirements: str) -> dict[str, float]:
    """The five tools called directly, in sequence."""
    times: dict[str, float] = {}
    t0 = time.perf_counter()
    env = await EnvBuilder(root / "envs-by-hand").ensure(requirements)
    times["build_env"] = time.perf_counter() - t0

    t = time.perf_counter()
    for _ in range(3):
        subprocess.run(
            [str(env.python), "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly"],
            cwd=bundle_dir,
            capture_output=True,
            check=True,
        )
    times["tests_x3"] = time.perf_counter() - t

    work = root / "work"
    work.mkdir(exist_ok=True)
    t = time.perf_counter()
    await asyncio.to_thread(mutmut_by_hand, bundle_dir, env, work, 2)
    times["mutation"] = time.perf_counter() - t

    t = time.perf_counter()
    await fuzz_by_hand(bundle_dir, env, work)
    times["fuzz"] = time.perf_counter() - t

    t = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "bandit", "-r", str(bundle_dir), "-f", "json", "-q"],
        capture_output=True,
        check=False,
    )
    times["static"] = time.perf_counter() - t

    t = time.perf_counter()
    await scan_dependencies(env, database=ADVISORY_SNAPSHOT)
    times["deps"] = time.perf_counter() - t
    times["total"] = time.perf_counter() - t0
    return times


async def main() -> None:
    root = Path(tempfile.mkdtemp(prefix="mb-bench-gate-"))
    root.chmod(0o755)
    try:
        bundle = generate_offline(DEMO_PROMPT).bundle
        digest = bundle_hash(bundle)
        bundle_dir = write_bundle(bundle, root / "bundles" / digest)
        requirements = bundle.file("requirements.txt") or ""

        hand = await by_hand(root, bundle_dir, requirements)

        settings = Settings(data_dir=root, advisory_db=ADVISORY_SNAPSHOT)
        gate = QAGate(EnvBuilder(root / "envs"), settings)
        t0 = time.perf_counter()
        report = await gate.run_all(bundle_dir, bundle, digest, settings.qa_policy())
        gate_s = time.perf_counter() - t0
        assert report.verdict == "pass", [s.reason for s in report.stages]

        policy = settings.qa_policy()
        alone: dict[str, float] = {}
        for name, run in (
            (
                "tests",
                lambda: gate.tests(bundle_dir, bundle, runs=3, timeout_s=300, seed_base=digest),
            ),
            ("mutation", lambda: gate.mutation(bundle_dir, bundle, policy, None)),
            ("fuzz", lambda: gate.fuzz(bundle_dir, bundle, policy, digest, None)),
            ("static", lambda: gate.static(bundle_dir, policy)),
            ("deps", lambda: gate.deps(bundle)),
        ):
            t = time.perf_counter()
            await run()
            alone[name] = time.perf_counter() - t
    finally:
        shutil.rmtree(root, ignore_errors=True)

    print("by hand, one after another (no sandbox):")
    for step, seconds in hand.items():
        print(f"  {step:<10} {seconds:7.2f} s")
    print("gate stages, each alone (sandboxed):")
    for step, seconds in alone.items():
        print(f"  {step:<10} {seconds:7.2f} s")
    for step, seconds in alone.items():
        print(f"qa_stage_{step}_s: {seconds:.2f}")
    print(f"qa_gate_s: {gate_s:.2f}")
    print(f"qa_by_hand_s: {hand['total']:.2f}")
    print(f"qa_gate_vs_by_hand_ratio: {gate_s / hand['total']:.2f}")


if __name__ == "__main__":
    asyncio.run(main())

"""Mutation stage overhead: the sandboxed stage vs a plain ``mutmut run`` on the same bundle.

    .venv/bin/python -m bench.qa_mutation [--prompt TEXT] [--repeat N] [--children N]

Both sides run on this machine, in this run, alternating (plain first on odd
rounds), with the bundle's environment built once (warm uv cache):

- stage: :func:`activities.qa.mutation.run_mutation` end to end: staging the
  copy, the sandbox (bubblewrap, cgroups, rlimits), mutmut, reading the
  results and every survivor's diff, cleaning up;
- plain: ``mutmut run --max-children N`` on a copy of the bundle outside the
  sandbox, staged the same way (the same ``[tool.mutmut]`` config, the same
  moved handler bodies), through the same driver (which only makes result files
  crash-safe and freezes the fork server's garbage collector), stdin from
  ``/dev/null`` and output to a file.

Medians over the rounds; the two sides must agree on the counts.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from activities.generation import generate_offline
from activities.qa.mutation import DRIVER_SOURCE, run_mutation
from activities.qa.mutation_staging import stage_bundle
from activities.qa.workspace import SandboxUser
from runtime.base import PythonEnv
from runtime.envs import EnvBuilder
from runtime.uids import UidPool
from schemas.qa import QAPolicy
from store.bundles import write_bundle

DEMO_PROMPT = "a todo list for my climbing team"


def bench_user(work: Path) -> SandboxUser:
    """The QA sandbox user of a benchmark: uids leased under its work directory."""
    return SandboxUser(uids=UidPool(work / "uids", base=1_899_000_000, count=1024))


async def stage_run(
    bundle_dir: Path, env: PythonEnv, work: Path, children: int
) -> tuple[float, str]:
    """Seconds of one mutation stage, and its counts."""
    t0 = time.perf_counter()
    report = await run_mutation(
        bundle_dir,
        env,
        policy=QAPolicy(),
        work_dir=work,
        user=bench_user(work),
        max_children=children,
    )
    elapsed = time.perf_counter() - t0
    assert report.verdict == "pass", report.reason
    return elapsed, f"{report.killed} killed, {report.survived} survived"


def plain_run(bundle_dir: Path, env: PythonEnv, work: Path, children: int) -> tuple[float, str]:
    """Seconds of one plain ``mutmut run`` (same config, no sandbox), and its counts."""
    project = work / "plain"
    shutil.rmtree(project, ignore_errors=True)
    stage_bundle(bundle_dir, project)  # the copy with our [tool.mutmut] config
    t0 = time.perf_counter()
    with open(work / "plain.log", "wb") as log:
        subprocess.run(
            [str(env.python), "-P", str(DRIVER_SOURCE), str(children)],
            cwd=project,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            check=True,
        )
    elapsed = time.perf_counter() - t0
    subprocess.run(
        [str(env.path / "bin" / "mutmut"), "export-cicd-stats"],
        cwd=project,
        capture_output=True,
        check=True,
    )
    stats = json.loads((project / "mutants" / "mutmut-cicd-stats.json").read_text())
    shutil.rmtree(project)
    return elapsed, f"{stats['killed']} killed, {stats['survived']} survived"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompt", default=DEMO_PROMPT)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--children", type=int, default=2)
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="mb-bench-mutation-"))
    root.chmod(0o755)
    try:
        bundle = generate_offline(args.prompt).bundle
        bundle_dir = write_bundle(bundle, root / "bundle")
        env = await EnvBuilder(root / "envs").ensure(bundle.file("requirements.txt") or "")
        stage_s: list[float] = []
        plain_s: list[float] = []
        for round_ in range(args.repeat):
            sides = ["plain", "stage"] if round_ % 2 == 0 else ["stage", "plain"]
            for side in sides:
                if side == "stage":
                    seconds, counts = await stage_run(bundle_dir, env, root / "qa", args.children)
                    stage_s.append(seconds)
                else:
                    seconds, plain_counts = plain_run(bundle_dir, env, root, args.children)
                    plain_s.append(seconds)
                print(f"  round {round_ + 1} {side:<5} {seconds:7.2f} s", flush=True)
            assert counts == plain_counts, (counts, plain_counts)
    finally:
        shutil.rmtree(root, ignore_errors=True)

    stage, plain = statistics.median(stage_s), statistics.median(plain_s)
    print(f"counts: {counts}")
    print(f"mutation_stage_s: {stage:.2f}")
    print(f"mutmut_plain_s: {plain:.2f}")
    print(f"mutation_overhead_ratio: {stage / plain:.2f}")


if __name__ == "__main__":
    asyncio.run(main())

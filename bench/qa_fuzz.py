"""Wall time of the fuzz stage on the demo bundle, against the same driver run outside the sandbox.

    .venv/bin/python -m bench.qa_fuzz [--prompt TEXT] [--repeat N]

Both sides run in this process's machine, in the same run, alternately, on
the demo bundle (``generate_offline(DEMO_PROMPT)``) with the default
:class:`~schemas.qa.QAPolicy` and the same seed:

- stage: :func:`activities.qa.fuzz.run_fuzz` (copy of the bundle, bubblewrap
  sandbox with resource limits, the driver, the report judged);
- baseline: the same driver, same arguments, same environment, run directly
  by the bundle's interpreter on a copy of the bundle (no sandbox, no copy
  ownership change, no limits).

The environment is built once beforehand (not timed). Prints the median of
``--repeat`` runs of each.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from activities.generation import generate_offline
from activities.qa.fuzz import (
    CURRENT_NAME,
    DRIVER_SOURCE,
    FUNCTION_TIMEOUT_S,
    REPORT_NAME,
    REQUEST_TIMEOUT_S,
    driver_args,
    run_fuzz,
)
from activities.qa.workspace import SandboxUser
from runtime.base import PythonEnv
from runtime.envs import EnvBuilder
from runtime.uids import UidPool
from schemas.qa import FuzzReport, QAPolicy
from store.bundles import write_bundle

DEMO_PROMPT = "a todo list for my climbing team"
SEED = 12345


def bench_user(work: Path) -> SandboxUser:
    """The QA sandbox user of a benchmark: uids leased under its work directory."""
    return SandboxUser(uids=UidPool(work / "uids", base=1_899_000_000, count=1024))


async def stage_once(bundle_dir: Path, env: PythonEnv, work: Path) -> tuple[float, FuzzReport]:
    """One run of the fuzz stage as the gate runs it."""
    t0 = time.perf_counter()
    report = await run_fuzz(
        bundle_dir, env, policy=QAPolicy(), seed=SEED, work_dir=work, user=bench_user(work)
    )
    return time.perf_counter() - t0, report


async def baseline_once(bundle_dir: Path, env: PythonEnv, work: Path) -> float:
    """The same driver outside the sandbox (it still copies the bundle: so does the stage)."""
    t0 = time.perf_counter()
    run_dir = Path(await asyncio.to_thread(tempfile.mkdtemp, dir=work))
    try:
        app, out, data = run_dir / "app", run_dir / "out", run_dir / "data"
        await asyncio.to_thread(shutil.copytree, bundle_dir, app)
        out.mkdir()
        data.mkdir()
        args = list(
            driver_args(
                entrypoint="main:app",
                seed=SEED,
                examples=QAPolicy().fuzz_examples,
                function_timeout_s=FUNCTION_TIMEOUT_S,
                request_timeout_s=REQUEST_TIMEOUT_S,
            )
        )
        args[0] = str(DRIVER_SOURCE)
        args[-2:] = [f"--out={out / REPORT_NAME}", f"--current={out / CURRENT_NAME}"]
        proc = await asyncio.create_subprocess_exec(
            str(env.path / "bin" / "python"),
            *args,
            cwd=app,
            env={
                "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                "MICROAPP_DATA_DIR": str(data),
                "PYTHONHASHSEED": "0",
                "PYTHONDONTWRITEBYTECODE": "1",
                "HYPOTHESIS_STORAGE_DIRECTORY": str(run_dir / "hypothesis"),
            },
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        if await proc.wait() != 0:
            raise SystemExit(f"the driver failed outside the sandbox (exit {proc.returncode})")
    finally:
        await asyncio.to_thread(shutil.rmtree, run_dir, True)
    return time.perf_counter() - t0


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--prompt", default=DEMO_PROMPT)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="mb-bench-fuzz-"))
    root.chmod(0o755)
    try:
        bundle = generate_offline(args.prompt).bundle
        bundle_dir = write_bundle(bundle, root / "bundle")
        requirements = next(f.content for f in bundle.files if f.path == "requirements.txt")
        env = await EnvBuilder(root / "envs").ensure(requirements)
        (root / "work").mkdir()
        stage_times: list[float] = []
        baseline_times: list[float] = []
        report: FuzzReport | None = None
        for _ in range(args.repeat):
            elapsed, report = await stage_once(bundle_dir, env, root / "work")
            stage_times.append(elapsed)
            baseline_times.append(await baseline_once(bundle_dir, env, root / "work"))
    finally:
        shutil.rmtree(root, ignore_errors=True)
    assert report is not None
    stage, baseline = statistics.median(stage_times), statistics.median(baseline_times)
    print(f"demo bundle: {args.prompt!r}; policy: {QAPolicy().fuzz_examples} examples per target")
    print(f"verdict: {report.verdict} ({report.reason})")
    print(f"stage runs:    {', '.join(f'{t:.2f}' for t in stage_times)} s")
    print(f"baseline runs: {', '.join(f'{t:.2f}' for t in baseline_times)} s")
    print(f"fuzz_examples_run: {report.examples_run}")
    print(f"fuzz_stage_s: {stage:.2f}")
    print(f"fuzz_unsandboxed_s: {baseline:.2f}")
    print(f"fuzz_sandbox_overhead_ratio: {stage / baseline:.2f}")


if __name__ == "__main__":
    asyncio.run(main())

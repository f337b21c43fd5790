"""Static analysis and dependency scanning on the demo bundle, against baselines in the same run.

    .venv/bin/python -m bench.qa_static_deps [--prompt TEXT] [--repeat N] [--database DIR]

Figures (medians over ``--repeat`` runs unless marked cold):

- ``bandit_s``: :func:`scan_static` on the demo bundle (bandit's library API, in-process);
  baseline ``bandit_cli_s``: bandit's own CLI, ``bandit -r DIR -f json``, as a subprocess
  (interpreter start and plugin loading included, as a naive integration would pay them);
- ``advisory_load_s`` (cold): parsing the PyPA snapshot (``yaml.CBaseLoader``); baseline
  ``advisory_load_safeloader_s``: the same files with ``yaml.safe_load`` (pure Python);
- ``deps_scan_s``: :func:`scan_dependencies` on the demo environment with the parsed
  database cached (a worker's steady state); ``deps_scan_cold_s`` includes the load.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import yaml

from activities.generation import generate_offline
from activities.qa import advisories
from activities.qa.deps import scan_dependencies
from activities.qa.static import scan_static
from bench import ADVISORY_SNAPSHOT
from runtime.envs import EnvBuilder
from schemas.qa import QAPolicy
from store.bundles import write_bundle

DEMO_PROMPT = "a todo list for my climbing team"


def median_s(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def safeloader_load(root: Path) -> int:
    count = 0
    for path in sorted(root.rglob("*.yaml")):
        yaml.safe_load(path.read_text(encoding="utf-8"))
        count += 1
    return count


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--prompt", default=DEMO_PROMPT)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--database", type=Path, default=ADVISORY_SNAPSHOT)
    args = parser.parse_args()
    if not args.database.is_dir():
        print(f"advisory database not found: {args.database}", file=sys.stderr)
        return 1

    work = Path(tempfile.mkdtemp(prefix="mb-bench-qa-"))
    try:
        app = generate_offline(args.prompt)
        bundle_dir = write_bundle(app.bundle, work / "bundle")
        policy = QAPolicy()

        report = scan_static(bundle_dir, policy=policy)  # warm-up: imports, plugin loading
        bandit_s = median_s(lambda: scan_static(bundle_dir, policy=policy), args.repeat)
        cli = [sys.executable, "-m", "bandit", "-r", str(bundle_dir), "-f", "json", "-q"]
        bandit_cli_s = median_s(
            lambda: subprocess.run(cli, capture_output=True, check=False), args.repeat
        )

        t = time.perf_counter()
        db = advisories.load_advisories(args.database)
        advisory_load_s = time.perf_counter() - t
        t = time.perf_counter()
        safeloader_count = safeloader_load(args.database)
        advisory_load_safeloader_s = time.perf_counter() - t

        env = await EnvBuilder(work / "envs").ensure(app.bundle.file("requirements.txt") or "")
        advisories.clear_advisory_cache()
        t = time.perf_counter()
        deps = await scan_dependencies(env, database=args.database)
        deps_scan_cold_s = time.perf_counter() - t
        times = []
        for _ in range(args.repeat):
            t = time.perf_counter()
            await scan_dependencies(env, database=args.database)
            times.append(time.perf_counter() - t)
        deps_scan_s = statistics.median(times)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    print(f"demo: {app.kind}, {report.files_scanned} files, static {report.verdict}")
    print(f"packages: {len(deps.packages)}, deps {deps.verdict} ({deps.reason})")
    print(f"advisories: {db.advisories} loaded, {db.withdrawn} withdrawn, {safeloader_count} files")
    print(f"bandit_cli_s: {bandit_cli_s:.3f}")
    print(f"bandit_s: {bandit_s:.3f}")
    print(f"bandit_ratio_vs_cli: {bandit_s / bandit_cli_s:.3f}")
    print(f"advisory_load_safeloader_s: {advisory_load_safeloader_s:.3f}")
    print(f"advisory_load_s: {advisory_load_s:.3f}")
    print(f"advisory_load_ratio_vs_safeloader: {advisory_load_s / advisory_load_safeloader_s:.3f}")
    print(f"deps_scan_cold_s: {deps_scan_cold_s:.3f}")
    print(f"deps_scan_s: {deps_scan_s:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))

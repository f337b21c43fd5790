"""The flaky-test detector measured, not assumed.

    .venv/bin/python -m bench.flaky_detection [--trials N] [--per-rate K] [--repeat R]
                                              [--tracer-runs T]
                                              [--only catch|deterministic|tracer]

- **Catch rate.** One bundle holds ``K`` tests per failure rate (1/2, 1/5, 1/10,
  1/20), each failing when ``random.random()`` draws below its rate. The tests
  stage runs it ``N`` times with different seed bases (each test in each trial is
  one independent trial); a test is caught when the stage names it flaky or
  failing. Printed per rate beside the theory, ``1 - (1 - p) ** 29``, and beside
  what the three plain runs alone catch in the same trials.
- **False flakies.** The nine offline blueprint apps and a suite of deterministic
  tests that touch every source (uuid, the clock, seeded and bounded ``random``,
  sorted sets, threads) run ``R`` times each with different seed bases: none may be
  called flaky.
- **Cost.** The same deterministic suites, the stage with detection against the
  plain three runs (no tracing, no reruns), alternating, in the same run.
- **Tracer.** The tracer's own cost, outside the sandbox but as in it (the plugin loaded
  to seed ``random``, no bytecode cache): the poll blueprint's suite and the touching
  suite run ``T`` times each without and with tracing, alternating; medians of the
  session's time (pytest's "passed in X s", from its JUnit XML) and of the process's
  CPU time.

Ends with ``figure: value`` lines.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import shutil
import statistics
import subprocess
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

from activities.generation import generate_offline
from activities.qa.flaky_detection import OBSERVATIONS, catch_probability
from activities.qa.test_runs import (
    QUIET_PLUGINS,
    TRACER_COMPANION,
    TRACER_NAME,
    TRACER_SOURCE,
    run_tests_repeatedly,
)
from bench.blueprints_gate import PROMPTS
from runtime.base import PythonEnv
from runtime.envs import EnvBuilder
from runtime.uids import UidPool
from schemas.qa import TestsReport
from store.bundles import make_bundle, write_bundle

RATES = {"1/2": 1 / 2, "1/5": 1 / 5, "1/10": 1 / 10, "1/20": 1 / 20}

DETERMINISTIC_TOUCHING = """
import random
import threading
import time
import uuid


def test_ids_are_unique():
    assert uuid.uuid4() != uuid.uuid4()


def test_the_clock_moves_forward():
    assert time.monotonic() <= time.monotonic()


def test_seeded_shuffle_keeps_the_cards():
    cards = list(range(10))
    random.Random(3).shuffle(cards)
    assert sorted(cards) == list(range(10))


def test_random_stays_in_bounds():
    assert 0 <= random.random() < 1


def test_sorted_set():
    assert sorted({"b", "a", "c"}) == ["a", "b", "c"]


def test_a_thread_returns():
    out = []
    worker = threading.Thread(target=lambda: out.append(1))
    worker.start()
    worker.join()
    assert out == [1]
"""


def touching_suite() -> dict[str, str]:
    return {
        "main.py": "VALUE = 1\n",
        "requirements.txt": "fastapi\n",
        "tests/test_det.py": DETERMINISTIC_TOUCHING,
    }


def flaky_suite(per_rate: int) -> dict[str, str]:
    lines = ["import random", ""]
    for label, rate in RATES.items():
        name = label.replace("/", "_in_")
        for i in range(per_rate):
            lines += [
                f"def test_fails_{name}_{i}():",
                f"    assert random.random() >= {rate!r}",
                "",
            ]
    return {
        "main.py": "VALUE = 1\n",
        "requirements.txt": "fastapi\n",
        "tests/test_flaky.py": "\n".join(lines),
    }


async def stage(
    bundle_dir: Path, env: PythonEnv, work: Path, seed_base: str, detect: bool
) -> tuple[TestsReport, float]:
    t0 = time.perf_counter()
    report = await run_tests_repeatedly(
        bundle_dir,
        env,
        runs=3,
        timeout_s=300,
        seed_base=seed_base,
        work_dir=work,
        uids=UidPool(work / "uids", base=1_899_000_000, count=1024),
        detect_flakes=detect,
    )
    return report, time.perf_counter() - t0


def caught(report: TestsReport) -> set[str]:
    return {f.nodeid for f in report.flaky} | set(report.failing)


async def catch_rates(root: Path, envs: EnvBuilder, trials: int, per_rate: int) -> dict[str, str]:
    bundle = make_bundle(flaky_suite(per_rate))
    bundle_dir = write_bundle(bundle, root / "flaky")
    env = await envs.ensure("fastapi\n")
    hits = dict.fromkeys(RATES, 0)
    plain_hits = dict.fromkeys(RATES, 0)
    for trial in range(trials):
        base = f"flaky-trial-{trial}"
        detected, _ = await stage(bundle_dir, env, root / "work", base, True)
        plain, _ = await stage(bundle_dir, env, root / "work", base, False)
        for label in RATES:
            prefix = f"tests/test_flaky.py::test_fails_{label.replace('/', '_in_')}_"
            hits[label] += sum(1 for n in caught(detected) if n.startswith(prefix))
            plain_hits[label] += sum(1 for n in caught(plain) if n.startswith(prefix))
        print(f"  trial {trial + 1}/{trials}: {len(detected.reruns)} reruns", flush=True)
    figures: dict[str, str] = {}
    total = trials * per_rate
    print(f"catch rate over {total} flaky tests per rate ({OBSERVATIONS} observations):")
    print(f"  {'rate':>5} {'caught':>8} {'theory':>8} {'3 runs':>8}")
    for label, rate in RATES.items():
        observed = hits[label] / total
        three = plain_hits[label] / total
        print(f"  {label:>5} {observed:8.3f} {catch_probability(rate):8.3f} {three:8.3f}")
        key = label.replace("/", "_in_")
        figures[f"flaky_catch_{key}"] = f"{observed:.3f}"
        figures[f"flaky_catch_{key}_three_runs"] = f"{three:.3f}"
    return figures


async def deterministic(root: Path, envs: EnvBuilder, repeat: int) -> dict[str, str]:
    suites: dict[str, tuple[Path, PythonEnv]] = {}
    for kind, prompt in PROMPTS.items():
        bundle = generate_offline(prompt).bundle
        suites[kind] = (
            write_bundle(bundle, root / "det" / kind),
            await envs.ensure(bundle.file("requirements.txt") or ""),
        )
    touching = make_bundle(touching_suite())
    suites["touching"] = (
        write_bundle(touching, root / "det" / "touching"),
        await envs.ensure("fastapi\n"),
    )
    false_flaky, runs_total, extra_runs = 0, 0, []
    detect_s, plain_s = [], []
    for r in range(repeat):
        for kind, (bundle_dir, env) in suites.items():
            base = f"det-{kind}-{r}"
            plain, p_s = await stage(bundle_dir, env, root / "work", base, False)
            detected, d_s = await stage(bundle_dir, env, root / "work", base, True)
            assert plain.verdict == "pass", (kind, plain.reason)
            false_flaky += bool(detected.flaky) or detected.verdict != "pass"
            runs_total += 1
            extra_runs.append(len(detected.reruns))
            plain_s.append(p_s)
            detect_s.append(d_s)
            print(
                f"  {kind:<10} plain {p_s:5.2f} s  detect {d_s:5.2f} s"
                f"  reruns {len(detected.reruns)}  touched {len(detected.touched)}",
                flush=True,
            )
    ratio = sum(detect_s) / sum(plain_s)
    return {
        "flaky_false_on_deterministic": f"{false_flaky}/{runs_total}",
        "flaky_max_extra_runs_deterministic": str(max(extra_runs)),
        "flaky_stage_plain_s": f"{statistics.mean(plain_s):.2f}",
        "flaky_stage_detect_s": f"{statistics.mean(detect_s):.2f}",
        "flaky_detection_cost_ratio": f"{ratio:.2f}",
    }


def session(env: PythonEnv, bundle_dir: Path, plugins: Path, traced: bool) -> tuple[float, float]:
    """(session seconds, process CPU seconds) of one pytest run of the bundle's suite."""
    report = bundle_dir.parent / f"{bundle_dir.name}.xml"
    command = [str(env.python), "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:randomly"]
    command += [*QUIET_PLUGINS, "-q", f"--junitxml={report}", "-p", TRACER_NAME]
    command += ["--mb-random-seed=1", *([f"--mb-trace-out={report}.json"] if traced else [])]
    for cache in bundle_dir.rglob("__pycache__"):  # each run in the sandbox has a fresh copy
        shutil.rmtree(cache)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(
        command,
        cwd=bundle_dir,
        env={
            "PATH": "/usr/bin:/bin",
            "PYTHONPATH": str(plugins),
            "PYTHONHASHSEED": "1",
            "PYTHONDONTWRITEBYTECODE": "1",
        },
        capture_output=True,
        text=True,
        check=False,
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    suite = ET.parse(report).getroot()
    suite = suite if suite.tag == "testsuite" else suite[0]
    used = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return float(suite.get("time", "nan")), used


async def tracer_cost(root: Path, envs: EnvBuilder, runs: int) -> dict[str, str]:
    plugins = root / "plugins"
    plugins.mkdir(parents=True)
    shutil.copy(TRACER_SOURCE, plugins / f"{TRACER_NAME}.py")  # as mounted in the sandbox
    shutil.copy(TRACER_COMPANION, plugins / TRACER_COMPANION.name)
    suites = {
        "poll": generate_offline(PROMPTS["poll"]).bundle,
        "touching": make_bundle(touching_suite()),
    }
    figures: dict[str, str] = {}
    print(f"tracer cost, medians of {runs} alternating runs (session / process CPU):")
    for name, bundle in suites.items():
        bundle_dir = write_bundle(bundle, root / "tracer" / name)
        env = await envs.ensure(bundle.file("requirements.txt") or "")
        seen: dict[bool, list[tuple[float, float]]] = {False: [], True: []}
        for _ in range(runs):
            for traced in (False, True):
                seen[traced].append(session(env, bundle_dir, plugins, traced))
        (plain_s, plain_cpu), (traced_s, traced_cpu) = (
            (statistics.median(s for s, _ in seen[k]), statistics.median(c for _, c in seen[k]))
            for k in (False, True)
        )
        print(
            f"  {name:<9} session {plain_s:.3f} s -> {traced_s:.3f} s"
            f" ({100 * (traced_s / plain_s - 1):+.0f} %);"
            f" process CPU {plain_cpu:.3f} s -> {traced_cpu:.3f} s"
            f" ({100 * (traced_cpu / plain_cpu - 1):+.0f} %)",
            flush=True,
        )
        figures[f"tracer_{name}_session_plain_s"] = f"{plain_s:.3f}"
        figures[f"tracer_{name}_session_traced_s"] = f"{traced_s:.3f}"
        figures[f"tracer_{name}_session_ratio"] = f"{traced_s / plain_s:.2f}"
        figures[f"tracer_{name}_process_cpu_ratio"] = f"{traced_cpu / plain_cpu:.2f}"
    return figures


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=4)
    parser.add_argument("--per-rate", type=int, default=25)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--tracer-runs", type=int, default=9)
    parser.add_argument("--only", choices=("catch", "deterministic", "tracer"), default=None)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="mb-bench-flaky-"))
    root.chmod(0o755)
    envs = EnvBuilder(root / "envs")
    try:
        figures: dict[str, str] = {}
        if args.only in (None, "catch"):
            figures.update(await catch_rates(root, envs, args.trials, args.per_rate))
        if args.only in (None, "deterministic"):
            figures.update(await deterministic(root, envs, args.repeat))
        if args.only in (None, "tracer"):
            figures.update(await tracer_cost(root, envs, args.tracer_runs))
    finally:
        shutil.rmtree(root, ignore_errors=True)
    for name, value in figures.items():
        print(f"{name}: {value}")


if __name__ == "__main__":
    asyncio.run(main())

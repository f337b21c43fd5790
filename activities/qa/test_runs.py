"""Run a bundle's tests several times in the sandbox and judge stability.

Run 1 keeps pytest's collected order; runs 2..N shuffle it with seeds
derived from ``seed_base`` (so a report can be reproduced). Each run gets a
fresh copy of the bundle at ``/app`` (writable: tests may write files), a
fresh ``/data`` and ``/tmp``, no network and no host environment, under the
same resource limits as a deployed app. Per-test outcomes come from
pytest-json-report's JSON, never from console text.

Note what this gate is for: it catches wrong and unstable code. The suite
runs in the same process as the code it tests, so code written to deceive
the gate could forge its own report; that is for the other QA stages.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import shutil
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from activities.qa.flaky_detection import (
    OBSERVATIONS,
    flaky_after_reruns,
    rerun_plan,
    sources_by_test,
)
from activities.qa.workspace import SandboxUser, run_tool
from runtime.base import PythonEnv
from runtime.bwrap import ENV_MOUNT, Bind
from runtime.limits import ResourceLimits
from runtime.uids import UidPool
from schemas.qa import FlakyTest, Rerun, TestOutcome, TestRun, TestsReport

PLUGIN_SOURCE = Path(__file__).with_name("pytest_shuffle.py")
PLUGIN_DIR = "/mb/plugins"
PLUGIN_NAME = "mb_shuffle"
TRACER_SOURCE = Path(__file__).with_name("pytest_nondeterminism.py")
TRACER_NAME = "mb_nondeterminism"
TRACER_COMPANION = Path(__file__).with_name("mb_nondeterminism_source.py")
EXPECT_PATH = "/mb/expect.json"
LOG_TAIL_LINES = 30
_PLUGIN_BINDS = (
    Bind(PLUGIN_SOURCE, f"{PLUGIN_DIR}/{PLUGIN_NAME}.py"),
    Bind(TRACER_SOURCE, f"{PLUGIN_DIR}/{TRACER_NAME}.py"),
    Bind(TRACER_COMPANION, f"{PLUGIN_DIR}/{TRACER_COMPANION.name}"),
)

# pytest exit codes (pytest.ExitCode), spelled out: pytest is not imported here.
_EXIT_OK, _EXIT_TESTS_FAILED, _EXIT_NO_TESTS = 0, 1, 5


QUIET_PLUGINS = ("-p", "no:schemathesis", "-p", "no:hypothesispytest")
"""pytest plugins of the QA tools themselves, which a bundle's suite does not need: they
cost about a second of start-up per run (hypothesis's ``@given`` works without its plugin)."""


def run_seed(seed_base: str, index: int | str) -> int:
    """The seed of run ``index`` (deterministic, 32 bits): its shuffle, or with a named
    index such as ``hash-2`` its hash or ``random`` seed."""
    digest = hashlib.sha256(f"{seed_base}:{index}".encode()).digest()
    return int.from_bytes(digest[:4], "big")


def _pytest(*options: str) -> tuple[str, ...]:
    """pytest inside the sandbox, without the plugins a bundle's suite does not need."""
    return (
        f"{ENV_MOUNT}/bin/python",
        "-m",
        "pytest",
        "-p",
        "no:cacheprovider",
        "-p",
        "no:randomly",
        *QUIET_PLUGINS,
        "-q",
        *options,
    )


def pytest_command(
    seed: int | None, *, random_seed: int | None = None, trace: bool = False
) -> tuple[str, ...]:
    """The pytest command line of one run inside the sandbox."""
    options = ["--json-report", "--json-report-file=/out/report.json"]
    if seed is not None:
        options += ["-p", PLUGIN_NAME, f"--mb-shuffle-seed={seed}"]
    if trace or random_seed is not None:
        options += ["-p", TRACER_NAME]
    if trace:
        options += ["--mb-trace-out=/out/touched.json"]
    if random_seed is not None:
        options += [f"--mb-random-seed={random_seed}"]
    return _pytest(*options)


def rerun_command(repetitions: int, random_seed: int) -> tuple[str, ...]:
    """The pytest command line of a rerun of the tests named in ``EXPECT_PATH``."""
    return _pytest(
        "-p",
        TRACER_NAME,
        f"--mb-repeat={repetitions}",
        "--mb-repeat-out=/out/repeats.json",
        f"--mb-repeat-expect={EXPECT_PATH}",
        f"--mb-random-seed={random_seed}",
    )


async def run_tests_repeatedly(
    bundle_dir: Path,
    env: PythonEnv,
    *,
    runs: int = 3,
    timeout_s: float,
    seed_base: str,
    work_dir: Path,
    uids: UidPool,
    memory_mb: int = 512,
    pids: int = 128,
    cpu: float = 1.0,
    use_cgroups: bool = True,
    heartbeat: Callable[[str], None] | None = None,
    detect_flakes: bool = True,
) -> TestsReport:
    """Run the bundle's suite ``runs`` times in the sandbox; ``fail`` unless stable and green.

    ``timeout_s`` bounds each run; a run that exceeds it is killed with its
    whole sandbox. Each run has a uid of its own from ``uids``. The limits are
    those of a deployed app (see
    :class:`runtime.limits.ResourceLimits`). ``heartbeat`` is called before,
    during (every few seconds) and after each run with a short progress note.
    Each run has its own ``PYTHONHASHSEED`` and ``random`` seed. With
    ``detect_flakes`` the runs trace which tests touch a source of
    nondeterminism and only those run again (see
    :mod:`activities.qa.flaky_detection`) until each has been seen often enough.
    """
    if runs < 1:
        raise ValueError("runs must be at least 1")
    limits = ResourceLimits(memory_mb=memory_mb, pids=pids, cpu=cpu, use_cgroups=use_cgroups)
    beat = heartbeat or (lambda _note: None)
    root = work_dir / f"tests-{uuid.uuid4().hex[:12]}"
    results: list[TestRun] = []
    traced: list[dict[str, list[str]]] = []
    user = SandboxUser(uids=uids, limits=limits)
    try:
        # Sequential on purpose. Measured on 2 shared cores with a small FastAPI suite:
        # one run takes ~1.25 s in the sandbox (~1.2 s outside it: interpreter start
        # and imports dominate); three runs take ~4.4 s one after another, ~2.4 s at
        # once. At once they would share the CPU, so a suite could time out only
        # because of its siblings: a false "flaky" verdict. It would also triple peak
        # memory. The ~2 s are not worth an unreliable verdict.
        for index in range(1, runs + 1):
            beat(f"tests run {index}/{runs} starting")
            run, touched = await _one_run(
                index,
                bundle_dir=bundle_dir,
                env=env,
                run_dir=root / f"run-{index}",
                seed=None if index == 1 else run_seed(seed_base, index),
                hash_seed=run_seed(seed_base, f"hash-{index}"),
                random_seed=run_seed(seed_base, f"random-{index}"),
                trace=detect_flakes,
                timeout_s=timeout_s,
                user=user,
                beat=_progress(beat, f"tests run {index}/{runs}"),
            )
            results.append(run)
            traced.append(touched)
            beat(f"tests run {index}/{runs} finished: exit code {run.exit_code}")
            if run.timed_out or run.exit_code not in (_EXIT_OK, _EXIT_TESTS_FAILED):
                break  # hangs, empty or broken suites fail alike every run: do not wait again
        report = judge(results)
        if detect_flakes:
            report = await _rerun_where_nondeterministic(
                report,
                traced,
                Rerunner(bundle_dir, env, root, seed_base, timeout_s, user, beat),
            )
    finally:
        await asyncio.to_thread(shutil.rmtree, root, True)
    return report


@dataclass(frozen=True)
class Rerunner:
    """Runs named tests again in the sandbox: repeated in one process, or once in a new
    process with another hash seed."""

    bundle_dir: Path
    env: PythonEnv
    root: Path
    seed_base: str
    timeout_s: float
    user: SandboxUser
    beat: Callable[[str], None]

    async def run(
        self, index: int, kind: str, expected: dict[str, TestOutcome], repetitions: int
    ) -> tuple[Rerun, dict[str, list[TestOutcome]]]:
        """Rerun ``index`` of the tests in ``expected`` (node id -> outcome so far)."""
        expect_file = self.root / f"rerun-{index}-expect.json"
        await asyncio.to_thread(
            expect_file.write_text, json.dumps({k: v.value for k, v in expected.items()})
        )
        hash_seed = run_seed(self.seed_base, f"rerun-hash-{index}")
        random_seed = run_seed(self.seed_base, f"rerun-random-{index}")
        label = f"rerun {index} ({kind}, {len(expected)} tests)"
        self.beat(f"{label} starting")
        run = await run_tool(
            self.bundle_dir,
            self.env,
            args=rerun_command(repetitions, random_seed)[1:],
            run_dir=self.root / f"rerun-{index}",
            user=self.user,
            timeout_s=self.timeout_s,
            extra_ro_binds=(*_PLUGIN_BINDS, Bind(expect_file, EXPECT_PATH)),
            extra_env={"PYTHONPATH": PLUGIN_DIR, "PYTHONHASHSEED": str(hash_seed)},
            heartbeat=_progress(self.beat, label),
        )
        found = (
            None if run.result.timed_out else await asyncio.to_thread(run.read_json, "repeats.json")
        )
        outcomes = _repeat_outcomes(found, expected)
        self.beat(f"{label} finished: exit code {run.result.exit_code}")
        summary = Rerun(
            index=index,
            kind="repeated" if kind == "repeated" else "process",
            tests=len(expected),
            repetitions=max((len(o) for o in outcomes.values()), default=0),
            hash_seed=hash_seed,
            random_seed=random_seed,
            exit_code=run.result.exit_code,
            timed_out=run.result.timed_out,
            duration_s=round(run.result.duration_s, 3),
        )
        return summary, outcomes


async def _rerun_where_nondeterministic(
    report: TestsReport, traced: list[dict[str, list[str]]], rerunner: Rerunner
) -> TestsReport:
    """Observe the tests that touched a source of nondeterminism until each has been seen
    :data:`OBSERVATIONS` times or has differed; attach every test's sources."""
    nodeids = dict.fromkeys(n for run in report.runs for n in run.outcomes)
    sources = sources_by_test(traced, nodeids)
    repeated, per_process = rerun_plan(report, sources)
    seen = sum(1 for r in report.runs if r.outcomes)
    remaining = max(OBSERVATIONS - seen, 0)
    reruns: list[Rerun] = []
    extra: dict[str, list[TestOutcome]] = {}
    if repeated and remaining:
        summary, outcomes = await rerunner.run(1, "repeated", repeated, remaining)
        reruns.append(summary)
        _merge(extra, outcomes)
    undecided = dict(per_process)
    for _ in range(remaining):
        undecided = {n: o for n, o in undecided.items() if set(extra.get(n, [])) <= {o}}
        if not undecided:
            break
        summary, outcomes = await rerunner.run(len(reruns) + 1, "process", undecided, 1)
        reruns.append(summary)
        _merge(extra, outcomes)
    result = flaky_after_reruns(report, extra, sources)
    hung = [r for r in reruns if r.timed_out]
    if hung:
        reason = f"rerun {hung[0].index} of tests that passed before timed out"
        result = result.model_copy(
            update={"verdict": "fail", "reason": f"{result.reason}; {reason}"}
        )
    return result.model_copy(update={"reruns": reruns})


def _merge(into: dict[str, list[TestOutcome]], outcomes: dict[str, list[TestOutcome]]) -> None:
    for nodeid, seen in outcomes.items():
        into.setdefault(nodeid, []).extend(seen)


def _repeat_outcomes(found: Any, expected: dict[str, TestOutcome]) -> dict[str, list[TestOutcome]]:
    """The repetitions' outcomes the plugin wrote; a test it never reached counts as
    missing (a test that passed before and no longer runs is not stable)."""
    document = found if isinstance(found, dict) else {}
    result: dict[str, list[TestOutcome]] = {}
    for nodeid in expected:
        raw = document.get(nodeid)
        values = raw if isinstance(raw, list) else []
        parsed = [TestOutcome(v) for v in values if v in TestOutcome._value2member_map_]
        result[nodeid] = parsed or [TestOutcome.MISSING]
    return result


def judge(runs: list[TestRun]) -> TestsReport:
    """The verdict over all runs (every run's outcomes are completed with ``missing``)."""
    nodeids = list(dict.fromkeys(n for run in runs for n in run.outcomes))
    # Only runs that finished and wrote a report say anything about stability.
    judged_idx = {
        r.index
        for r in runs
        if r.outcomes and not r.timed_out and r.exit_code in (_EXIT_OK, _EXIT_TESTS_FAILED)
    }
    runs = [
        r.model_copy(update={"outcomes": {**r.outcomes, **_missing(nodeids, r.outcomes)}})
        for r in runs
    ]
    judged = [r for r in runs if r.index in judged_idx]
    bad = (TestOutcome.FAILED, TestOutcome.ERROR)
    flaky = [
        FlakyTest(nodeid=n, outcomes=[r.outcomes[n] for r in runs])
        for n in nodeids
        if len({r.outcomes[n] for r in judged}) > 1
    ]
    failing = [n for n in nodeids if judged and all(r.outcomes[n] in bad for r in judged)]

    problems: list[str] = []
    for run in runs:
        if run.timed_out:
            problems.append(f"run {run.index} timed out after {run.duration_s:.0f} s")
        elif run.exit_code == _EXIT_NO_TESTS:
            problems.append(f"run {run.index}: no tests were collected")
        elif run.exit_code not in (_EXIT_OK, _EXIT_TESTS_FAILED):
            broken = [n for n, o in run.outcomes.items() if o == TestOutcome.ERROR]
            where = f": {_names(broken)}" if broken else ""
            problems.append(
                f"run {run.index}: pytest could not run the suite "
                f"(exit code {run.exit_code}){where}"
            )
        elif run.index not in judged_idx:
            problems.append(f"run {run.index}: pytest wrote no report")
        elif run.exit_code == _EXIT_TESTS_FAILED and not any(
            o in bad for o in run.outcomes.values()
        ):
            problems.append(f"run {run.index}: pytest exited 1 without a failing test")
    if failing:
        problems.append(f"{len(failing)} failing: {_names(failing)}")
    if flaky:
        described = [f"{f.nodeid} [{', '.join(o.value for o in f.outcomes)}]" for f in flaky]
        problems.append(f"{len(flaky)} flaky (outcome differs between runs): {_names(described)}")
    if not problems and not any(r.outcomes[n] == TestOutcome.PASSED for r in runs for n in nodeids):
        problems.append("no test passed (every test was skipped)")
    if problems:
        return TestsReport(
            verdict="fail", reason="; ".join(problems), runs=runs, flaky=flaky, failing=failing
        )
    shuffled = sum(1 for r in runs if r.order == "shuffled")
    return TestsReport(
        verdict="pass",
        reason=f"{len(nodeids)} tests stable over {len(runs)} runs ({shuffled} in shuffled order)",
        runs=runs,
    )


def _missing(nodeids: list[str], present: dict[str, TestOutcome]) -> dict[str, TestOutcome]:
    return {n: TestOutcome.MISSING for n in nodeids if n not in present}


def _names(items: list[str], limit: int = 10) -> str:
    more = f" and {len(items) - limit} more" if len(items) > limit else ""
    return ", ".join(items[:limit]) + more


def _progress(beat: Callable[[str], None], label: str) -> Callable[[float], None]:
    return lambda elapsed: beat(f"{label}: running for {elapsed:.0f} s")


def outcomes_from_report(report: dict[str, Any]) -> dict[str, TestOutcome]:
    """node id -> outcome from a pytest-json-report document, in execution order.

    A module that failed to import (a collector that failed) appears as an
    ``error`` under its own node id.
    """
    result: dict[str, TestOutcome] = {}
    for collector in report.get("collectors") or []:
        if isinstance(collector, dict) and collector.get("outcome") == "failed":
            nodeid = collector.get("nodeid")
            if isinstance(nodeid, str) and nodeid:
                result[nodeid] = TestOutcome.ERROR
    for test in report.get("tests") or []:
        if not isinstance(test, dict) or not isinstance(test.get("nodeid"), str):
            continue
        result[test["nodeid"]] = _outcome(test)
    return result


def _outcome(test: dict[str, Any]) -> TestOutcome:
    # pytest-json-report says "error" when setup or teardown failed, whatever the call did.
    outcome = test.get("outcome")
    if outcome in ("passed", "xpassed"):  # a strict xpass is reported as "failed"
        return TestOutcome.PASSED
    if outcome in ("skipped", "xfailed"):  # an expected failure does not count against the app
        return TestOutcome.SKIPPED
    if outcome == "failed":
        return TestOutcome.FAILED
    return TestOutcome.ERROR


async def _one_run(
    index: int,
    *,
    bundle_dir: Path,
    env: PythonEnv,
    run_dir: Path,
    seed: int | None,
    hash_seed: int,
    random_seed: int,
    trace: bool,
    timeout_s: float,
    user: SandboxUser,
    beat: Callable[[float], None],
) -> tuple[TestRun, dict[str, list[str]]]:
    run = await run_tool(
        bundle_dir,
        env,
        args=pytest_command(seed, random_seed=random_seed, trace=trace)[1:],
        run_dir=run_dir,
        user=user,
        timeout_s=timeout_s,
        extra_ro_binds=_PLUGIN_BINDS,
        extra_env={"PYTHONPATH": PLUGIN_DIR, "PYTHONHASHSEED": str(hash_seed)},
        heartbeat=beat,
    )
    report = None if run.result.timed_out else await asyncio.to_thread(run.read_json, "report.json")
    touched = await asyncio.to_thread(run.read_json, "touched.json") if trace else None
    test_run = TestRun(
        index=index,
        order="fixed" if seed is None else "shuffled",
        seed=seed,
        exit_code=run.result.exit_code,
        timed_out=run.result.timed_out,
        duration_s=round(run.result.duration_s, 3),
        outcomes=outcomes_from_report(report) if isinstance(report, dict) else {},
        log_tail=await asyncio.to_thread(run.log_tail, LOG_TAIL_LINES),
        hash_seed=hash_seed,
        random_seed=random_seed,
    )
    return test_run, _touched(touched)


def _touched(found: Any) -> dict[str, list[str]]:
    """The tracer's document, shape-checked (it was written by sandboxed code)."""
    if not isinstance(found, dict):
        return {}
    return {
        str(key): [str(s) for s in value if isinstance(s, str)][:20]
        for key, value in list(found.items())[:10_000]
        if isinstance(key, str) and isinstance(value, list)
    }

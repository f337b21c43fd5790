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
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from activities.qa.workspace import SandboxUser, run_tool
from runtime.base import PythonEnv
from runtime.bwrap import ENV_MOUNT, Bind
from runtime.limits import ResourceLimits
from runtime.uids import UidPool
from schemas.qa import FlakyTest, TestOutcome, TestRun, TestsReport

PLUGIN_SOURCE = Path(__file__).with_name("pytest_shuffle.py")
PLUGIN_DIR = "/mb/plugins"
PLUGIN_NAME = "mb_shuffle"
LOG_TAIL_LINES = 30

# pytest exit codes (pytest.ExitCode), spelled out: pytest is not imported here.
_EXIT_OK, _EXIT_TESTS_FAILED, _EXIT_NO_TESTS = 0, 1, 5


QUIET_PLUGINS = ("-p", "no:schemathesis", "-p", "no:hypothesispytest")
"""pytest plugins of the QA tools themselves, which a bundle's suite does not need: they
cost about a second of start-up per run (hypothesis's ``@given`` works without its plugin)."""


def run_seed(seed_base: str, index: int) -> int:
    """The shuffle seed of run ``index`` (deterministic, 32 bits)."""
    digest = hashlib.sha256(f"{seed_base}:{index}".encode()).digest()
    return int.from_bytes(digest[:4], "big")


def pytest_command(seed: int | None) -> tuple[str, ...]:
    """The pytest command line of one run inside the sandbox."""
    command = [
        f"{ENV_MOUNT}/bin/python",
        "-m",
        "pytest",
        "-p",
        "no:cacheprovider",
        "-p",
        "no:randomly",
        *QUIET_PLUGINS,
        "--json-report",
        "--json-report-file=/out/report.json",
        "-q",
    ]
    if seed is not None:
        command += ["-p", PLUGIN_NAME, f"--mb-shuffle-seed={seed}"]
    return tuple(command)


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
) -> TestsReport:
    """Run the bundle's suite ``runs`` times in the sandbox; ``fail`` unless stable and green.

    ``timeout_s`` bounds each run; a run that exceeds it is killed with its
    whole sandbox. Each run has a uid of its own from ``uids``. The limits are
    those of a deployed app (see
    :class:`runtime.limits.ResourceLimits`). ``heartbeat`` is called before,
    during (every few seconds) and after each run with a short progress note.
    """
    if runs < 1:
        raise ValueError("runs must be at least 1")
    limits = ResourceLimits(memory_mb=memory_mb, pids=pids, cpu=cpu, use_cgroups=use_cgroups)
    beat = heartbeat or (lambda _note: None)
    root = work_dir / f"tests-{uuid.uuid4().hex[:12]}"
    results: list[TestRun] = []
    try:
        # Sequential on purpose. Measured on 2 shared cores with a small FastAPI suite:
        # one run takes ~1.25 s in the sandbox (~1.2 s outside it: interpreter start
        # and imports dominate); three runs take ~4.4 s one after another, ~2.4 s at
        # once. At once they would share the CPU, so a suite could time out only
        # because of its siblings: a false "flaky" verdict. It would also triple peak
        # memory. The ~2 s are not worth an unreliable verdict.
        for index in range(1, runs + 1):
            beat(f"tests run {index}/{runs} starting")
            run = await _one_run(
                index,
                bundle_dir=bundle_dir,
                env=env,
                run_dir=root / f"run-{index}",
                seed=None if index == 1 else run_seed(seed_base, index),
                timeout_s=timeout_s,
                user=SandboxUser(uids=uids, limits=limits),
                beat=_progress(beat, f"tests run {index}/{runs}"),
            )
            results.append(run)
            beat(f"tests run {index}/{runs} finished: exit code {run.exit_code}")
            if run.timed_out or run.exit_code not in (_EXIT_OK, _EXIT_TESTS_FAILED):
                break  # hangs, empty or broken suites fail alike every run: do not wait again
    finally:
        await asyncio.to_thread(shutil.rmtree, root, True)
    return judge(results)


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
    timeout_s: float,
    user: SandboxUser,
    beat: Callable[[float], None],
) -> TestRun:
    run = await run_tool(
        bundle_dir,
        env,
        args=pytest_command(seed)[1:],
        run_dir=run_dir,
        user=user,
        timeout_s=timeout_s,
        extra_ro_binds=(Bind(PLUGIN_SOURCE, f"{PLUGIN_DIR}/{PLUGIN_NAME}.py"),),
        extra_env={"PYTHONPATH": PLUGIN_DIR},
        heartbeat=beat,
    )
    report = None if run.result.timed_out else await asyncio.to_thread(run.read_json, "report.json")
    return TestRun(
        index=index,
        order="fixed" if seed is None else "shuffled",
        seed=seed,
        exit_code=run.result.exit_code,
        timed_out=run.result.timed_out,
        duration_s=round(run.result.duration_s, 3),
        outcomes=outcomes_from_report(report) if isinstance(report, dict) else {},
        log_tail=await asyncio.to_thread(run.log_tail, LOG_TAIL_LINES),
    )

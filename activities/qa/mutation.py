"""Mutation testing: would the bundle's tests notice if its code were wrong?

mutmut 3 runs on a copy of the bundle inside the sandbox (the code and its
tests are untrusted), under the platform's configuration only:

* The copy is staged on the host first. The bundle's own ``[tool.mutmut]``
  is dropped (``pyproject.toml`` is rewritten with ours; of the bundle's
  file only its ``[tool.pytest...]`` tables are kept, so its tests run as in
  the tests stage), a ``[mutmut]`` section of ``setup.cfg`` is removed, and
  ``# pragma: no mutate`` comments are blanked: a bundle cannot exempt code.
* The bodies of decorated functions (route handlers, dependencies,
  validators, properties) move into plain functions mutmut mutates
  (:mod:`activities.qa.mutation_transform`); what the decorators see is
  unchanged, and survivors are reported against the user's own lines.
* Our config: ``source_paths`` = the app's Python files outside its tests,
  tests selected from ``tests/``, ``-p no:cacheprovider -p no:randomly``,
  every other file of the bundle copied next to the mutants (templates,
  data files), no git change detection, and mutmut's ``forkserver``
  isolation: the stats run, the clean run and every mutant's tests run in a
  process that has imported the tests but run none, as each run of the tests
  stage does, so state one run of the suite leaves behind never decides
  another's outcome.
* Outcomes of earlier runs are reused where nothing they depend on changed
  (:mod:`activities.qa.mutation_reuse`): only the mutants of changed functions
  and of the functions around them run, and mutmut's stats run traces only the
  tests that executed a changed function.
* :mod:`activities.qa.mutation_driver` runs ``mutmut run --max-children N``
  in the sandbox with crash-safe result files, output to the log, stdin
  from ``/dev/null``. The sandbox gets ``N`` cores (the app limits' CPU
  quota would serialise the children) and ``N + 1`` times the app's
  process budget; memory stays the app's.

Results are read on the host once the sandbox is gone, from mutmut's own
data: each mutant's exit code in ``mutants/<file>.meta``, mapped to a status
exactly as ``mutmut.stats.status_by_exit_code`` does (a test keeps the copy
below equal to the installed mutmut's); counts are the sums of those statuses
(what ``mutmut export-cicd-stats`` computes). Diffs are built from the
``.spans`` index mutmut writes next to each mutated file (the lines of the
unmutated copy and of each mutant), the way ``mutmut show`` does, without a
second mutmut process. Files are read without following links, with size
caps. The same reading serves a run cut short by the timeout: the driver
makes each ``.meta`` write atomic, so a killed run leaves the mutants
checked so far.

Survivors and untested mutants that no test could kill on the platform
(:mod:`activities.qa.mutation_equivalents`: a docstring, the case of SQL, of a
``sqlite3.Row`` key, the ``MICROAPP_DATA_DIR`` default) are ``equivalent``: listed
with their rule, left out of the score.

Verdict. ``score = killed / (killed + survived)`` as the policy defines it.
The stage fails when mutmut could not run (the baseline tests must pass
first), when it timed out (partial counts are reported), when there were no
mutants at all, when the score is below ``mutation_threshold``, or when too
little of the code is mutated: ``mutable_fraction = mutable_lines /
logic_lines``, counted over the code as written, must reach
``min_mutable_fraction`` — logic in class bodies, module-level code, lambdas in
decorators or defaults, or in the few decorated functions whose bodies cannot
move (async generators, nested functions) is logic no mutant ever tests.

``no_tests`` mutants (in functions no test runs at all) are not in the
score, as defined, but they do gate: the stage also fails when
``killed / (killed + survived + no_tests)`` is below the threshold. A mutant
no test executes is one no test would catch; leaving them out entirely lets
a suite that tests one function thoroughly and ignores the rest score 100 %.
Timeouts (a mutant made the tests hang: detected, in effect) count in neither
direction. Survivors are listed first, then no-tests mutants, each with its
diff (at most :data:`MAX_DIFFS` diffs, :data:`MAX_LISTED` entries).

Like the tests stage, this gate catches weak tests, not deception: the
tests run as the same user as mutmut, so code written to forge mutmut's
result files could.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import time
import uuid
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Literal

from pydantic import ValidationError

from activities.qa.mutation_results import (
    MutmutResults,
    clean_log,
    function_key,
    read_log,
    read_results,
)
from activities.qa.mutation_reuse import (
    CarriedStats,
    MutmutStats,
    ReuseCache,
    ReusePlan,
    carry,
    entries,
    prefill,
    reuse_plan,
    stored_stats,
)
from activities.qa.mutation_staging import Layout, stage_bundle
from activities.qa.workspace import SandboxUser, ToolRun, read_json, run_tool
from runtime.base import PythonEnv
from runtime.bwrap import Bind
from schemas.qa import MutationReport, QAPolicy

DRIVER_SOURCE = Path(__file__).with_name("mutation_driver.py")
DRIVER_MOUNT = "/mb/mutation_driver.py"
PREFILL_MOUNT = "/mb/mutation_prefill.json"
REUSED_REPORT = "mutation-reused.json"
"""The driver's list of the mutants it recorded from earlier runs, in ``/out``."""
SHARED_HITS_REPORT = "mutation-shared-hits.json"
"""The driver's list of the functions reached outside any test's call, in ``/out``."""
MUTMUT_STATS = "mutants/mutmut-stats.json"


# --- the verdict ------------------------------------------------------------------------


BASELINE_FAILURES = (
    "the baseline run collected no tests",
    "the bundle's tests fail on its unmutated code",
    "pytest could not run the bundle's tests on its unmutated code",
)
"""How :func:`why_mutmut_failed` starts when the suite itself failed before any mutant."""


def why_mutmut_failed(log: str, exit_code: int) -> str:
    """What stopped mutmut before it tested the mutants, from its own messages."""
    failed_tests = list(dict.fromkeys(re.findall(r"^(?:FAILED|ERROR) (\S+)", log, re.M)))
    named = f": {', '.join(failed_tests[:5])}" if failed_tests else ""
    stats = re.search(r"failed to collect stats\. runner returned (-?\d+)", log)
    if (stats and int(stats.group(1)) == 5) or "no active tests found" in log:
        return "the baseline run collected no tests"
    if (stats and int(stats.group(1)) == 1) or "Failed to run clean test" in log:
        return f"the bundle's tests fail on its unmutated code (mutmut needs them to pass){named}"
    if stats:
        return (
            "pytest could not run the bundle's tests on its unmutated code "
            f"(exit code {stats.group(1)}){named}"
        )
    if "Failed to run pytest with args" in log:
        return "pytest refused its command line (a usage error: exit code 4)"
    if "could not find any test case for any mutant" in log:
        return "no test executes any of the code mutmut mutated"
    if "none match any mutant key" in log:
        return "the tests import the app under another module path than its files' own"
    if "Unable to force test failures" in log:
        return (
            "the tests still pass when every mutated function raises: "
            "they do not depend on the app's functions"
        )
    return f"mutmut failed (exit code {exit_code}); see the log"


def judge(
    results: MutmutResults,
    layout: Layout,
    policy: QAPolicy,
    *,
    exit_code: int,
    timed_out: bool,
    log: str,
    duration_s: float,
    reused: frozenset[str] = frozenset(),
) -> MutationReport:
    """The stage's report from mutmut's results and the code's line counts.

    ``reused``: the mutants whose outcome an earlier run provided.
    """
    killed, survived = results.count("killed"), results.count("survived")
    no_tests, timeouts = results.count("no_tests"), results.count("timeout")
    equivalent = results.count("equivalent")
    total = len(results.statuses)
    other = total - killed - survived - no_tests - timeouts - equivalent
    checked = total - results.count("not_checked")
    score = killed / (killed + survived) if killed + survived else None
    logic, mutable = layout.lines.logic, layout.lines.mutable
    fraction = mutable / logic if logic else None

    problems: list[str] = []
    baseline_failed = False
    if not layout.sources:
        problems.append("the bundle has no Python code outside its tests")
    elif timed_out:
        problems.append(
            f"mutation testing did not finish within {policy.mutation_timeout_s:.0f} s "
            f"({checked} of {total} mutants checked)"
        )
    elif total == 0 and (exit_code == 0 or "could not find any test case" in log):
        problems.append("mutmut generated no mutants: the code has nothing it can mutate")
    elif exit_code != 0 and checked:
        problems.append(
            f"mutmut stopped with exit code {exit_code} after {checked} of {total} mutants"
        )
    elif exit_code != 0:
        problems.append(why_mutmut_failed(log, exit_code))
        baseline_failed = problems[-1].startswith(BASELINE_FAILURES)
    elif score is None:
        problems.append(f"the tests neither killed nor missed any of the {total} mutants")
    if results.unreadable:
        problems.append(f"mutmut's results for {', '.join(results.unreadable)} are unreadable")
    if layout.unparsable:
        problems.append(f"not valid Python: {', '.join(layout.unparsable)}")
    if fraction is not None and fraction < policy.min_mutable_fraction:
        kept = ", ".join(f"{name} ({why})" for name, why in layout.kept.items())
        why_kept = f"; decorated functions left unmutated: {kept}" if kept else ""
        problems.append(
            f"only {mutable} of {logic} logic lines ({fraction:.0%}) are in functions that are "
            f"mutated (minimum {policy.min_mutable_fraction:.0%}): class bodies, module-level "
            "code, lambdas in decorators or defaults and the bodies of async generators and "
            "nested decorated functions are not, and a bundle cannot pass by hiding its logic "
            f"there; move it into functions{why_kept}"
        )
    if score is not None and score < policy.mutation_threshold:
        problems.append(
            f"mutation score {score:.0%} < {policy.mutation_threshold:.0%}: "
            f"{survived} of {killed + survived} mutants survived the tests"
        )
    if no_tests and killed + survived:
        covered_score = killed / (killed + survived + no_tests)
        if covered_score < policy.mutation_threshold:
            problems.append(
                f"{no_tests} mutants are in code no test runs; counted as survivors the score is "
                f"{covered_score:.0%} < {policy.mutation_threshold:.0%}"
            )

    not_checked = results.count("not_checked")
    summary = (
        f"{killed} killed, {survived} survived, {no_tests} without tests, "
        f"{timeouts} timed out, {other} other"
        + (f", {equivalent} equivalent (not scored)" if equivalent else "")
        + (f" ({not_checked} not checked)" if not_checked else "")
        + (f"; {len(reused)} outcomes reused from an earlier run" if reused else "")
    )
    if problems:
        verdict: Literal["pass", "fail"] = "fail"
        reason = "; ".join([*problems, summary])
    else:
        verdict = "pass"
        reason = f"mutation score {score:.0%} >= {policy.mutation_threshold:.0%} ({summary})"
    for mutant in results.listed:
        mutant.reused = mutant.name in reused
    functions: dict[tuple[str, str], list[str]] = {}
    for name in results.statuses:
        functions.setdefault((results.files.get(name, ""), function_key(name)), []).append(name)
    reused_functions = sorted(
        _user_name(layout, rel, key)
        for (rel, key), names in functions.items()
        if names and all(n in reused for n in names)
    )
    return MutationReport(
        verdict=verdict,
        reason=reason,
        score=None if score is None else round(score, 4),
        threshold=policy.mutation_threshold,
        killed=killed,
        survived=survived,
        no_tests=no_tests,
        timeouts=timeouts,
        other=other,
        mutable_lines=mutable,
        logic_lines=logic,
        mutable_fraction=None if fraction is None else round(fraction, 4),
        min_mutable_fraction=policy.min_mutable_fraction,
        survivors=results.listed,
        timed_out=timed_out,
        duration_s=round(duration_s, 3),
        log_tail=clean_log(log),
        baseline_failed=baseline_failed,
        equivalent=equivalent,
        reused=sum(1 for name in results.statuses if name in reused),
        reused_functions=reused_functions,
        moved_functions=layout.moved,
        unmoved_functions=layout.kept,
    )


def _user_name(layout: Layout, rel: str, key: str) -> str:
    module = layout.modules.get(rel)
    function = module.function(key) if module is not None else None
    return f"{rel}:{function.name if function is not None else key}"


# --- the stage --------------------------------------------------------------------------


def sandbox_user(user: SandboxUser, max_children: int) -> SandboxUser:
    """The app's limits, widened for ``max_children`` concurrent test processes.

    CPU: the children's cores (the app's quota would run them one at a time).
    Processes: mutmut itself plus each child, each within the app's budget.
    Memory stays the app's: the children share their parent's pages.
    """
    limits = user.limits
    return replace(
        user,
        limits=replace(
            limits,
            cpu=max(limits.cpu, float(max_children)),
            pids=limits.pids * (max_children + 1),
        ),
    )


async def run_mutation(
    bundle_dir: Path,
    env: PythonEnv,
    *,
    policy: QAPolicy,
    work_dir: Path,
    user: SandboxUser,
    max_children: int,
    heartbeat: Callable[[str], None] | None = None,
    reuse: ReuseCache | None = None,
) -> MutationReport:
    """mutmut over the bundle in the sandbox, within ``policy.mutation_timeout_s``.

    ``max_children`` is how many mutants are tested at once (the cores this
    worker gives the stage). ``heartbeat`` gets a short note before, every few
    seconds during, and after the run. With ``reuse``, outcomes stored by earlier
    runs are reused where nothing they depend on changed, and this run's are
    stored. Everything under ``work_dir`` that the run created is removed before
    returning.
    """
    if max_children < 1:
        raise ValueError("max_children must be at least 1")
    beat = heartbeat or (lambda _note: None)
    started = time.monotonic()
    root = work_dir / f"mutation-{uuid.uuid4().hex[:12]}"
    try:
        # A staged copy of its own, as run_tool copies its input as it is; with a hook to
        # prepare run_tool's copy (configure_copy), this extra copy would go.
        layout = await asyncio.to_thread(stage_bundle, bundle_dir, root / "bundle")
        if not layout.sources:
            return judge(
                MutmutResults(),
                layout,
                policy,
                exit_code=0,
                timed_out=False,
                log="",
                duration_s=time.monotonic() - started,
            )
        plan: ReusePlan | None = None
        known: dict[str, dict[str, dict[str, object]]] = {}
        carried: CarriedStats | None = None
        if reuse is not None:
            plan = await asyncio.to_thread(reuse_plan, root / "bundle", layout, env.key)
            known = await asyncio.to_thread(prefill, reuse, plan.keys)
            carried = await asyncio.to_thread(_carried, reuse, plan)
        prefill_path = root / "prefill.json"
        prefill_path.write_text(
            json.dumps({"outcomes": known, "stats": carried and carried.model_dump()}),
            encoding="utf-8",
        )
        beat(f"mutation: mutmut starting ({max_children} at once)")
        run = await run_tool(
            root / "bundle",
            env,
            args=("-P", DRIVER_MOUNT, str(max_children), PREFILL_MOUNT),
            run_dir=root / "run",
            user=sandbox_user(user, max_children),
            timeout_s=policy.mutation_timeout_s,
            extra_ro_binds=(
                Bind(DRIVER_SOURCE, DRIVER_MOUNT),
                Bind(prefill_path, PREFILL_MOUNT),
            ),
            heartbeat=lambda elapsed: beat(f"mutation: mutmut running for {elapsed:.0f} s"),
        )
        results = await asyncio.to_thread(read_results, run.app_dir, layout.sources, layout.modules)
        log = await asyncio.to_thread(read_log, run.log_path)
        reused = _reused(run, results)
        finished = run.result.exit_code == 0 and not run.result.timed_out
        if reuse is not None and plan is not None and finished:
            await asyncio.to_thread(_store, reuse, plan, run, results, reused, carried)
        report = judge(
            results,
            layout,
            policy,
            exit_code=run.result.exit_code,
            timed_out=run.result.timed_out,
            log=log,
            duration_s=time.monotonic() - started,
            reused=reused,
        )
        beat(f"mutation: {report.verdict}")
        return report
    finally:
        await asyncio.to_thread(shutil.rmtree, root, True)


def _reused(run: ToolRun, results: MutmutResults) -> frozenset[str]:
    """The mutants whose outcome the driver recorded from an earlier run (its list)."""
    listed = run.read_json(REUSED_REPORT)
    if not isinstance(listed, list):
        return frozenset()
    return frozenset(n for n in listed if isinstance(n, str) and n in results.statuses)


def _carried(cache: ReuseCache, plan: ReusePlan) -> CarriedStats | None:
    stored = cache.stats(plan.base)
    return carry(stored, plan.digests) if stored is not None else None


def _store(
    cache: ReuseCache,
    plan: ReusePlan,
    run: ToolRun,
    results: MutmutResults,
    reused: frozenset[str],
    carried: CarriedStats | None,
) -> None:
    """Store this finished run's new outcomes and its stats for later runs."""
    try:
        stats = MutmutStats.model_validate(read_json(run.app_dir / MUTMUT_STATS))
    except ValidationError:
        return  # without the tests reaching each function, nothing can be reused safely
    by_function: dict[tuple[str, str], list[str]] = {}
    for name in results.exit_codes:
        by_function.setdefault((results.files[name], function_key(name)), []).append(name)
    fresh = {
        node: names
        for node, names in by_function.items()
        if node in plan.keys and not all(n in reused for n in names)
    }
    tests = stats.tests_by_mangled_function_name
    for node, entry in entries(fresh, results.exit_codes, tests).items():
        cache.put(plan.keys[node], entry)
    shared = run.read_json(SHARED_HITS_REPORT)
    if not isinstance(shared, list) or not all(isinstance(n, str) for n in shared):
        return
    if carried is not None:  # the stats run saw only the traced tests' shared hits
        before = cache.stats(plan.base)
        shared += before.shared_hits if before is not None else []
    cache.put_stats(plan.base, stored_stats(plan, by_function, stats, shared))

"""How often a test that touched nondeterminism must be seen, and what its reruns mean.

A test that fails with probability ``p`` on each observation escapes only when
every observation passes: ``(1 - p) ** n``. The platform promises three runs of
every test; a test that the tracer (:mod:`activities.qa.pytest_nondeterminism`)
saw touching a source of nondeterminism is observed until ``n`` reaches
:data:`OBSERVATIONS`, the smallest number that meets every target in
:data:`TARGETS` with half the misses they allow (29: a test failing 1 time in 10
is caught 95 % of the time, one failing 1 time in 2 all but never missed), or until
its outcome first differs. Tests that touched nothing
are not run again.

Sources fall in two kinds. Those that vary within one process (``random``
re-seeded between repetitions, ``secrets``, ``uuid``, ``os.urandom``, the clock,
threads, files) are observed by repeating the test in **one** extra process.
Those fixed for a process's lifetime (``hash()`` of str and set iteration order,
both set by ``PYTHONHASHSEED``) need a new process per observation, each with
another hash seed, running only those tests. Values drawn while a module is
imported are fixed for a process too; they vary across the three required runs
and are reported, but are not a reason for more processes (a module-level
``SECRET = secrets.token_hex()`` is common and harmless).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

from schemas.qa import FlakyTest, TestOutcome, TestRun, TestsReport

TARGETS: tuple[tuple[float, float], ...] = ((1 / 2, 0.99), (1 / 10, 0.90))
"""(failure probability, required catch rate) pairs the detector must meet."""

PROCESS_LEVEL = frozenset({"hash", "set order"})
"""Sources fixed for a process's lifetime (names as the tracer writes them)."""

IMPORT_PREFIX = "<import "


MARGIN = 2.0
"""Misses allowed are the targets' divided by this: a detector designed to exactly 90 %
measures below it about as often as above."""


def observations_needed(
    targets: Iterable[tuple[float, float]] = TARGETS, margin: float = MARGIN
) -> int:
    """The fewest observations ``n`` with ``(1 - p) ** n <= (1 - catch) / margin`` for
    every target."""
    return max(math.ceil(math.log((1 - catch) / margin) / math.log(1 - p)) for p, catch in targets)


OBSERVATIONS = observations_needed()


def catch_probability(p: float, observations: int = OBSERVATIONS) -> float:
    """The chance that a test failing with probability ``p`` shows it in ``observations``."""
    return 1 - (1 - p) ** observations


def sources_by_test(
    traced: Iterable[Mapping[str, Sequence[str]]], nodeids: Iterable[str]
) -> dict[str, list[str]]:
    """Every test's sources over all traced runs; a source drawn while the test's module
    was imported is named ``<source> at import``."""
    by_key: dict[str, set[str]] = {}
    for document in traced:
        for key, sources in document.items():
            by_key.setdefault(key, set()).update(str(s) for s in sources)
    result: dict[str, list[str]] = {}
    for nodeid in nodeids:
        module = nodeid.split("::", 1)[0]
        found = set(by_key.get(nodeid, ()))
        found |= {f"{s} at import" for s in by_key.get(f"{IMPORT_PREFIX}{module}>", ())}
        if found:
            result[nodeid] = sorted(found)
    return result


def rerun_plan(
    report: TestsReport, sources: Mapping[str, Sequence[str]]
) -> tuple[dict[str, TestOutcome], dict[str, TestOutcome]]:
    """(tests to repeat in one process, tests to run in new processes), each with the
    outcome every judged run gave it. Only tests stable so far are candidates: a flaky
    or failing test already fails the stage."""
    decided = {f.nodeid for f in report.flaky} | set(report.failing)
    repeated: dict[str, TestOutcome] = {}
    per_process: dict[str, TestOutcome] = {}
    for nodeid, found in sources.items():
        outcome = _stable_outcome(report.runs, nodeid)
        if nodeid in decided or outcome is None:
            continue
        live = [s for s in found if not s.endswith(" at import")]
        if any(s not in PROCESS_LEVEL for s in live):
            repeated[nodeid] = outcome
        if any(s in PROCESS_LEVEL for s in live):
            per_process[nodeid] = outcome
    return repeated, per_process


def _stable_outcome(runs: Sequence[TestRun], nodeid: str) -> TestOutcome | None:
    seen = {r.outcomes.get(nodeid) for r in runs if r.outcomes}
    if len(seen) != 1:
        return None
    outcome = seen.pop()
    return outcome if outcome in (TestOutcome.PASSED, TestOutcome.SKIPPED) else None


def flaky_after_reruns(
    report: TestsReport,
    rerun_outcomes: Mapping[str, Sequence[TestOutcome]],
    sources: Mapping[str, Sequence[str]],
) -> TestsReport:
    """The report with the tests whose reruns differed added to ``flaky`` (with every
    outcome seen and the sources that explain it), the verdict and reason updated, and
    every test's sources attached."""
    newly = []
    for nodeid, extra in rerun_outcomes.items():
        before = [r.outcomes[nodeid] for r in report.runs if nodeid in r.outcomes]
        if len({*before, *extra}) > 1:
            newly.append(FlakyTest(nodeid=nodeid, outcomes=[*before, *extra]))
    flaky = [
        f.model_copy(update={"sources": list(sources.get(f.nodeid, []))})
        for f in [*report.flaky, *newly]
    ]
    update: dict[str, object] = {"flaky": flaky, "touched": dict(sources)}
    if newly:
        described = [
            f"{f.nodeid} [{', '.join(o.value for o in f.outcomes)}]"
            f" (touched: {', '.join(f.sources) or 'nothing seen'})"
            for f in flaky
            if f in newly or f.nodeid in {n.nodeid for n in newly}
        ]
        found = f"{len(newly)} flaky on rerun (outcome differs between runs): " + ", ".join(
            described[:10]
        )
        reason = found if report.verdict == "pass" else f"{report.reason}; {found}"
        update.update({"verdict": "fail", "reason": reason})
    return report.model_copy(update=update)

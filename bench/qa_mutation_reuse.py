"""Reusing mutation outcomes on a redeploy: a one-line change in one handler of a corpus app.

    .venv/bin/python -m bench.qa_mutation_reuse [--app NAME] [--repeat N (3)]

In this run, on this machine, with the bundle's environment built once:

- **full**: the whole gate (:meth:`QAGate.run_all`, five stages) on the changed
  bundle with nothing to reuse (a fresh reuse directory each round);
- **warm**: the whole gate on the changed bundle after the gate ran once on the
  original (the redeploy: the reuse directory holds the original's outcomes).

The change (``--app``'s :data:`CHANGES` entry) edits one line of one route handler
without changing what it does; the warm gate re-runs the mutants of that handler
and of the helpers it calls, traces again only the tests that executed it, and
reuses the rest. The two must reach the same verdict with the same counts and the
same outcome for every mutant listed (survivors, untested); the others were killed.
Rounds alternate which side runs first; medians.
Ends with ``figure: value`` lines (``gate_warm_ratio``: target at most 0.35).
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from activities.qa.gate import QAGate
from bench import ADVISORY_SNAPSHOT
from runtime.envs import EnvBuilder
from schemas.bundle import AppBundle
from schemas.qa import MutationReport, QAGateReport, StageReport, TestsReport
from schemas.settings import Settings
from store.bundles import bundle_hash, load_bundle_dir, make_bundle, write_bundle
from tests.qa_corpus.realistic import APPS

CHANGES: dict[str, tuple[str, str, str]] = {
    # app: (file, part of one line of a handler as written, the same changed without
    # changing what the handler does)
    "todo_sqlite": (
        "main.py",
        "done=False, priority=todo.priority)",
        "priority=todo.priority, done=False)",
    ),
    "notes": (
        "main.py",
        "Note(id=next_id, created_at=datetime.now(UTC),",
        "Note(created_at=datetime.now(UTC), id=next_id,",
    ),
}


def changed_bundle(app: str) -> tuple[AppBundle, AppBundle]:
    """The corpus app as written, and with its one-line change."""
    original = load_bundle_dir(APPS / app)
    path, old, new = CHANGES[app]
    text = original.file(path)
    assert text is not None and text.count(old) == 1, f"{app}: {old!r} must occur once"
    files = {f.path: f.content for f in original.files}
    files[path] = text.replace(old, new)
    return original, make_bundle(files)


async def gate_run(
    root: Path, envs: EnvBuilder, reuse_dir: str, bundle: AppBundle
) -> tuple[float, QAGateReport]:
    """Seconds of one whole gate with outcomes reused from ``root/reuse_dir``, and its report."""
    data = root / reuse_dir
    data.mkdir(exist_ok=True)
    data.chmod(0o755)
    settings = Settings(data_dir=data, advisory_db=ADVISORY_SNAPSHOT)
    gate = QAGate(envs, settings)
    digest = bundle_hash(bundle)
    checkout = write_bundle(bundle, data / "bundles" / digest)
    await gate.environment(bundle)  # built once, outside the timed run
    started = time.perf_counter()
    report = await gate.run_all(checkout, bundle, digest, settings.qa_policy())
    return time.perf_counter() - started, report


def mutation(report: QAGateReport) -> MutationReport:
    stage = report.stage("mutation")
    assert isinstance(stage, MutationReport)
    return stage


def stage_seconds(stage: StageReport) -> float:
    """A stage's own time (the tests stage: its runs and reruns, one after another)."""
    if isinstance(stage, TestsReport):
        return sum(r.duration_s for r in stage.runs) + sum(r.duration_s for r in stage.reruns)
    return stage.duration_s


def total_mutants(m: MutationReport) -> int:
    return m.killed + m.survived + m.no_tests + m.timeouts + m.other + m.equivalent


def counts(report: QAGateReport) -> tuple[object, ...]:
    """The verdicts, the counts and each listed mutant's outcome (the rest were killed)."""
    m = mutation(report)
    listed = sorted((s.name, s.status, s.diff or "") for s in m.survivors)
    return (report.verdict, m.verdict, m.killed, m.survived, m.no_tests, m.equivalent, listed)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--app", choices=sorted(CHANGES), default="todo_sqlite")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    original, changed = changed_bundle(args.app)
    root = Path(tempfile.mkdtemp(prefix="mb-bench-reuse-"))
    root.chmod(0o755)
    envs = EnvBuilder(root / "envs")
    full_s: list[float] = []
    warm_s: list[float] = []
    full_mutation_s: list[float] = []
    warm_mutation_s: list[float] = []
    try:
        for round_ in range(args.repeat):
            # The redeploy's cache: the original, gated once.
            await gate_run(root, envs, f"warm-{round_}", original)
            sides = ["full", "warm"] if round_ % 2 == 0 else ["warm", "full"]
            for side in sides:
                seconds, report = await gate_run(
                    root, envs, f"{side}-{round_}" if side == "full" else f"warm-{round_}", changed
                )
                m = mutation(report)
                if side == "full":
                    full_s.append(seconds)
                    full_mutation_s.append(m.duration_s)
                    full = report
                    assert m.reused == 0, m.reason
                else:
                    warm_s.append(seconds)
                    warm_mutation_s.append(m.duration_s)
                    warm = report
                stages = ", ".join(f"{s.stage} {stage_seconds(s):.1f}" for s in report.stages)
                print(
                    f"  round {round_ + 1} {side:<4} gate {seconds:6.1f} s ({stages}), "
                    f"{m.reused} of {total_mutants(m)} outcomes reused: {report.verdict}",
                    flush=True,
                )
            assert counts(warm) == counts(full), "the warm gate's outcomes differ from a cold run's"
    finally:
        shutil.rmtree(root, ignore_errors=True)

    m = mutation(warm)
    full_gate, warm_gate = statistics.median(full_s), statistics.median(warm_s)
    full_mut, warm_mut = statistics.median(full_mutation_s), statistics.median(warm_mutation_s)
    path, old, new = CHANGES[args.app]
    print(f"app: {args.app} ({path}: {old.strip()!r} -> {new.strip()!r})")
    print(f"reused_functions: {', '.join(m.reused_functions)}")
    print(f"reuse_mutants_total: {total_mutants(m)}")
    print(f"reuse_mutants_reused: {m.reused}")
    print(f"reuse_same_verdict: {counts(warm) == counts(full)}")
    print(f"gate_full_s: {full_gate:.1f}")
    print(f"gate_warm_s: {warm_gate:.1f}")
    print(f"gate_warm_ratio: {warm_gate / full_gate:.2f}")
    print(f"mutation_full_s: {full_mut:.1f}")
    print(f"mutation_warm_s: {warm_mut:.1f}")
    print(f"mutation_warm_ratio: {warm_mut / full_mut:.2f}")


if __name__ == "__main__":
    asyncio.run(main())

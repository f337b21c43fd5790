"""The QA gate on the realistic corpus: false rejects and false passes per stage.

    .venv/bin/python -m bench.qa_corpus [--part tuning|held-out] [--only NAME ...]

Runs the real gate (:meth:`QAGate.run_all`, platform defaults, the offline advisory
snapshot) on every bundle of ``tests/qa_corpus/apps`` and compares each stage's verdict
with the manifest (``tests/qa_corpus/apps/corpus.toml``):

- a **false reject** on a stage: the stage failed a bundle it should pass (a sound
  bundle, or a defective bundle whose defect targets another stage);
- a **false pass** on a stage: a defective bundle passed the stage its defect targets.

A mutation stage the gate reports as not judged (``skipped``: the tests stage failed
and mutmut could not run the same suite) is neither.

Prints each bundle's verdicts, then every wrong verdict with the stage's reason, then
the counts per stage for the tuning part and the held-out part, and each stage's mean
wall time (the stages run in parallel, as in the gate). Ends with ``figure: value``
lines; the target, once the gate is fixed, is zero false rejects and zero false passes.
Nothing is asserted. About 20 to 60 s per bundle on two shared cores.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from activities.qa.gate import STAGES, Heartbeat, QAGate
from bench import ADVISORY_SNAPSHOT
from runtime.envs import EnvBuilder
from schemas.bundle import AppBundle
from schemas.qa import (
    DependencyReport,
    FuzzReport,
    MutationReport,
    QAGateReport,
    QAPolicy,
    StaticReport,
    TestsReport,
)
from schemas.settings import Settings
from store.bundles import bundle_hash, load_bundle_dir, write_bundle
from tests.qa_corpus.realistic import CorpusEntry, load_corpus

PARTS = ("tuning", "held-out")
REASON_CHARS = 400


class TimedGate(QAGate):
    """The real gate, each stage's wall time noted (the stages still run in parallel)."""

    def __init__(self, envs: EnvBuilder, settings: Settings) -> None:
        super().__init__(envs, settings)
        self.times: dict[str, float] = {}

    async def tests(
        self,
        bundle_dir: Path,
        bundle: AppBundle,
        *,
        runs: int,
        timeout_s: float,
        seed_base: str,
        heartbeat: Heartbeat | None = None,
    ) -> TestsReport:
        started = time.monotonic()
        try:
            return await super().tests(
                bundle_dir,
                bundle,
                runs=runs,
                timeout_s=timeout_s,
                seed_base=seed_base,
                heartbeat=heartbeat,
            )
        finally:
            self.times["tests"] = time.monotonic() - started

    async def mutation(
        self, bundle_dir: Path, bundle: AppBundle, policy: QAPolicy, heartbeat: Heartbeat | None
    ) -> MutationReport:
        started = time.monotonic()
        try:
            return await super().mutation(bundle_dir, bundle, policy, heartbeat)
        finally:
            self.times["mutation"] = time.monotonic() - started

    async def fuzz(
        self,
        bundle_dir: Path,
        bundle: AppBundle,
        policy: QAPolicy,
        seed_base: str,
        heartbeat: Heartbeat | None,
    ) -> FuzzReport:
        started = time.monotonic()
        try:
            return await super().fuzz(bundle_dir, bundle, policy, seed_base, heartbeat)
        finally:
            self.times["fuzz"] = time.monotonic() - started

    async def static(self, bundle_dir: Path, policy: QAPolicy) -> StaticReport:
        started = time.monotonic()
        try:
            return await super().static(bundle_dir, policy)
        finally:
            self.times["static"] = time.monotonic() - started

    async def deps(self, bundle: AppBundle) -> DependencyReport:
        started = time.monotonic()
        try:
            return await super().deps(bundle)
        finally:
            self.times["deps"] = time.monotonic() - started


@dataclass
class Outcome:
    """One bundle through the gate, judged against the manifest."""

    entry: CorpusEntry
    report: QAGateReport
    times: dict[str, float]
    gate_s: float
    false_rejects: list[str] = field(default_factory=list)
    false_passes: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        for stage in self.report.stages:
            if stage.verdict == "fail" and stage.stage != self.entry.target:
                self.false_rejects.append(stage.stage)
            if stage.verdict == "pass" and stage.stage == self.entry.target:
                self.false_passes.append(stage.stage)

    def reason(self, stage: str) -> str:
        text = next(s.reason for s in self.report.stages if s.stage == stage)
        text = " ".join(text.split())
        return text if len(text) <= REASON_CHARS else text[:REASON_CHARS] + "..."


async def measure(entries: Sequence[CorpusEntry], root: Path) -> list[Outcome]:
    """Every entry through the gate, one after another (a gate already uses every core)."""
    settings = Settings(data_dir=root, advisory_db=ADVISORY_SNAPSHOT)
    gate = TimedGate(EnvBuilder(root / "envs"), settings)
    outcomes: list[Outcome] = []
    for entry in entries:
        bundle = load_bundle_dir(entry.path)
        digest = bundle_hash(bundle)
        checkout = write_bundle(bundle, root / "bundles" / digest)
        await gate.environment(bundle)  # built outside the timed gate run
        gate.times = {}
        started = time.monotonic()
        report = await gate.run_all(checkout, bundle, digest, settings.qa_policy())
        outcome = Outcome(entry, report, dict(gate.times), time.monotonic() - started)
        outcomes.append(outcome)
        print_row(outcome)
    return outcomes


def mark(outcome: Outcome, stage: str) -> str:
    if stage in outcome.false_rejects:
        return "FR"
    if stage in outcome.false_passes:
        return "FP"
    report = outcome.report.stage(stage)
    return "not-judged" if report is not None and report.verdict == "skipped" else "ok"


def print_row(outcome: Outcome) -> None:
    entry = outcome.entry
    marks = " ".join(f"{s}={mark(outcome, s)}" for s in STAGES)
    m = outcome.report.stage("mutation")
    figures = ""
    if isinstance(m, MutationReport):
        score = "n/a" if m.score is None else f"{m.score:.2f}"
        fraction = "n/a" if m.mutable_fraction is None else f"{m.mutable_fraction:.2f}"
        figures = (
            f"  mutation {m.verdict} score {score} mutable {fraction} "
            f"({m.killed}k {m.survived}s {m.no_tests}nt {m.equivalent}eq)"
        )
    print(
        f"{entry.name:<16} {entry.part:<8} expect={entry.expect:<8} "
        f"gate={outcome.report.verdict:<4} {outcome.gate_s:6.1f} s  {marks}{figures}",
        flush=True,
    )


def summarise(outcomes: Sequence[Outcome]) -> None:
    wrong = [o for o in outcomes if o.false_rejects or o.false_passes]
    print()
    print(f"wrong verdicts ({len(wrong)} bundles):")
    for outcome in wrong:
        entry = outcome.entry
        for stage in outcome.false_rejects:
            print(f"  {entry.name} ({entry.part}) false reject on {stage}: {outcome.reason(stage)}")
        for stage in outcome.false_passes:
            print(f"  {entry.name} ({entry.part}) false pass on {stage}: {outcome.reason(stage)}")

    print()
    columns = ("bundles", "false rejects", "targeted", "false passes")
    print(f"{'part':<9} {'stage':<9} " + " ".join(f"{c:>13}" for c in columns))
    figures: dict[str, str] = {}
    for part in PARTS:
        in_part = [o for o in outcomes if o.entry.part == part]
        if not in_part:
            continue
        key = part.replace("-", "")
        total_fr = total_fp = 0
        for stage in STAGES:
            fr = sum(stage in o.false_rejects for o in in_part)
            fp = sum(stage in o.false_passes for o in in_part)
            targeted = sum(o.entry.target == stage for o in in_part)
            total_fr, total_fp = total_fr + fr, total_fp + fp
            counts = (len(in_part), fr, targeted, fp)
            print(f"{part:<9} {stage:<9} " + " ".join(f"{c:>13}" for c in counts))
            figures[f"false_rejects_{key}_{stage}"] = str(fr)
            figures[f"false_passes_{key}_{stage}"] = str(fp)
        figures[f"false_rejects_{key}"] = str(total_fr)
        figures[f"false_passes_{key}"] = str(total_fp)
        sound = [o for o in in_part if o.entry.target is None]
        defective = [o for o in in_part if o.entry.target is not None]
        figures[f"sound_passing_gate_{key}"] = (
            f"{sum(o.report.verdict == 'pass' for o in sound)}/{len(sound)}"
        )
        figures[f"defective_failing_only_their_stage_{key}"] = (
            f"{sum(not o.false_rejects and not o.false_passes for o in defective)}/{len(defective)}"
        )

    print()
    for stage in STAGES:
        times = [o.times[stage] for o in outcomes if stage in o.times]
        mean = sum(times) / len(times) if times else 0.0
        figures[f"stage_mean_s_{stage}"] = f"{mean:.1f}"
    figures["gate_mean_s"] = f"{sum(o.gate_s for o in outcomes) / len(outcomes):.1f}"
    figures["bundles"] = str(len(outcomes))
    for name, value in figures.items():
        print(f"{name}: {value}")


async def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--part", choices=PARTS, help="only the tuning or the held-out part")
    parser.add_argument("--only", nargs="+", metavar="NAME", help="only these bundles")
    args = parser.parse_args(argv)
    entries = load_corpus()
    if args.part:
        entries = [e for e in entries if e.part == args.part]
    if args.only:
        unknown = set(args.only) - {e.name for e in entries}
        if unknown:
            parser.error(f"not in the corpus (or not in this part): {', '.join(sorted(unknown))}")
        entries = [e for e in entries if e.name in args.only]
    root = Path(tempfile.mkdtemp(prefix="mb-bench-corpus-"))
    root.chmod(0o755)  # the sandbox user reads bundles and environments below it
    try:
        outcomes = await measure(entries, root)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    summarise(outcomes)


if __name__ == "__main__":
    asyncio.run(main())

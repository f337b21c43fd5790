"""The local moderation engine on the public evaluation set, tuning and held-out parts apart.

For each part it prints a table per category (the category a prompt is labelled
with, benign near-misses included): block precision and recall, flag precision
and recall, benign prompts stopped; then the misses of the tuning part (the
held-out part's only when asked: whoever reads them is tuning on them); and
ends with ``figure: value`` lines. Obfuscated variants (generated from every
written prompt) are scored apart from the written ("plain") prompts.

Definitions, within a set of prompts:

- block recall: prompts labelled block that were blocked;
  block precision: prompts blocked that were labelled block;
- flag recall: prompts labelled flag that were flagged (sent to review);
  flag precision: prompts flagged that were labelled flag;
- caught: abusive prompts (labelled block or flag) not allowed;
- benign stopped (false positive rate): prompts labelled allow that were flagged or blocked;
- category agreement: abusive prompts caught whose label is the engine's top category.

Run: ``.venv/bin/python -m bench.moderation_eval [--misses tuning|held-out|all|none]``
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from activities.moderation import moderate_locally
from schemas.moderation import ModerationResult, Verdict
from tests.activities.moderation.eval import (
    CATEGORIES,
    EvalCase,
    obfuscated_cases,
    written_cases,
)
from tests.activities.moderation.eval.obfuscate import VARIANTS

Moderate = Callable[[str], ModerationResult]


@dataclass(frozen=True, slots=True)
class Outcome:
    """One case and what the engine made of it."""

    case: EvalCase
    verdict: Verdict
    top_category: str | None

    @property
    def correct(self) -> bool:
        return self.verdict == self.case.expected


def judge(cases: Iterable[EvalCase], moderate: Moderate = moderate_locally) -> list[Outcome]:
    """Every case with the engine's verdict and its highest-scoring category."""
    outcomes = []
    for case in cases:
        result = moderate(case.prompt)
        top = result.categories[0].category.value if result.categories else None
        outcomes.append(Outcome(case, result.verdict, top))
    return outcomes


def _ratio(hits: int, total: int) -> float | None:
    return hits / total if total else None


def _show(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"


@dataclass(frozen=True, slots=True)
class Scores:
    """Counts and ratios over one set of outcomes."""

    prompts: int
    labelled_block: int
    labelled_flag: int
    labelled_allow: int
    blocked_right: int
    blocked: int
    flagged_right: int
    flagged: int
    abusive_caught: int
    benign_stopped: int
    benign_blocked: int
    agreeing: int

    @classmethod
    def of(cls, outcomes: Sequence[Outcome]) -> Scores:
        def count(test: Callable[[Outcome], bool]) -> int:
            return sum(1 for outcome in outcomes if test(outcome))

        return cls(
            prompts=len(outcomes),
            labelled_block=count(lambda o: o.case.expected == "block"),
            labelled_flag=count(lambda o: o.case.expected == "flag"),
            labelled_allow=count(lambda o: o.case.expected == "allow"),
            blocked_right=count(lambda o: o.case.expected == "block" and o.verdict == "block"),
            blocked=count(lambda o: o.verdict == "block"),
            flagged_right=count(lambda o: o.case.expected == "flag" and o.verdict == "flag"),
            flagged=count(lambda o: o.verdict == "flag"),
            abusive_caught=count(lambda o: o.case.abusive and o.verdict != "allow"),
            benign_stopped=count(lambda o: not o.case.abusive and o.verdict != "allow"),
            benign_blocked=count(lambda o: not o.case.abusive and o.verdict == "block"),
            agreeing=count(
                lambda o: (
                    o.case.abusive and o.verdict != "allow" and o.top_category == o.case.category
                )
            ),
        )

    @property
    def block_recall(self) -> float | None:
        return _ratio(self.blocked_right, self.labelled_block)

    @property
    def block_precision(self) -> float | None:
        return _ratio(self.blocked_right, self.blocked)

    @property
    def flag_recall(self) -> float | None:
        return _ratio(self.flagged_right, self.labelled_flag)

    @property
    def flag_precision(self) -> float | None:
        return _ratio(self.flagged_right, self.flagged)

    @property
    def caught(self) -> float | None:
        return _ratio(self.abusive_caught, self.labelled_block + self.labelled_flag)

    @property
    def benign_false_positive_rate(self) -> float | None:
        return _ratio(self.benign_stopped, self.labelled_allow)

    @property
    def benign_blocked_rate(self) -> float | None:
        return _ratio(self.benign_blocked, self.labelled_allow)

    @property
    def category_agreement(self) -> float | None:
        return _ratio(self.agreeing, self.abusive_caught)


def category_table(outcomes: Sequence[Outcome]) -> list[str]:
    """One line per labelled category: block P/R, flag P/R, benign stopped."""
    lines = [
        f"{'category':<24} {'n':>4} {'block P':>8} {'block R':>8} {'flag P':>8} {'flag R':>8}"
        f" {'benign FP':>10} {'agree':>6}"
    ]
    for name in CATEGORIES:
        scores = Scores.of([o for o in outcomes if o.case.category == name])
        if not scores.prompts:
            continue
        benign = f"{scores.benign_stopped}/{scores.labelled_allow}"
        lines.append(
            f"{name:<24} {scores.prompts:>4} {_show(scores.block_precision):>8}"
            f" {_show(scores.block_recall):>8} {_show(scores.flag_precision):>8}"
            f" {_show(scores.flag_recall):>8} {benign:>10} {_show(scores.category_agreement):>6}"
        )
    return lines


def figures(prefix: str, plain: Sequence[Outcome], obfuscated: Sequence[Outcome]) -> list[str]:
    """The ``figure: value`` lines of one part."""
    written = Scores.of(plain)
    hidden = Scores.of(obfuscated)
    lines = [
        f"{prefix}_prompts: {written.prompts}",
        f"{prefix}_block_recall: {_show(written.block_recall)}",
        f"{prefix}_block_precision: {_show(written.block_precision)}",
        f"{prefix}_flag_recall: {_show(written.flag_recall)}",
        f"{prefix}_flag_precision: {_show(written.flag_precision)}",
        f"{prefix}_abusive_caught: {_show(written.caught)}",
        f"{prefix}_benign_false_positive_rate: {_show(written.benign_false_positive_rate)}",
        f"{prefix}_benign_blocked_rate: {_show(written.benign_blocked_rate)}",
        f"{prefix}_category_agreement: {_show(written.category_agreement)}",
        f"{prefix}_obfuscated_prompts: {hidden.prompts}",
        f"{prefix}_obfuscated_block_recall: {_show(hidden.block_recall)}",
        f"{prefix}_obfuscated_flag_recall: {_show(hidden.flag_recall)}",
        f"{prefix}_obfuscated_abusive_caught: {_show(hidden.caught)}",
        f"{prefix}_obfuscated_benign_false_positive_rate:"
        f" {_show(hidden.benign_false_positive_rate)}",
    ]
    for name in VARIANTS:
        variant = Scores.of([o for o in obfuscated if o.case.obfuscation == name])
        lines.append(f"{prefix}_obfuscated_{name.replace('-', '_')}_block_recall:"
                     f" {_show(variant.block_recall)}")  # fmt: skip
    return lines


def misses(outcomes: Sequence[Outcome]) -> list[str]:
    """Every wrong verdict: where the prompt is, what it should get, what it got."""
    return [
        f"  {o.case.source:<32} expected {o.case.expected:<5} got {o.verdict:<5}"
        f" ({o.top_category or 'no category'}): {o.case.prompt}"
        for o in outcomes
        if not o.correct
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--misses",
        choices=["all", "held-out", "tuning", "none"],
        default="tuning",
        help="which part's wrong verdicts to list (default: tuning; the held-out part's"
        " texts are for reporting, not for reading while tuning)",
    )
    args = parser.parse_args()

    written = judge(written_cases())
    obfuscated = judge(obfuscated_cases())
    benign = sum(1 for o in written if not o.case.abusive)
    print(f"eval set: {len(written)} written prompts ({benign} benign near-misses),"
          f" {len(obfuscated)} obfuscated variants")  # fmt: skip
    lines: list[str] = []
    for part, prefix in (("tuning", "tuning"), ("held-out", "held_out")):
        plain = [o for o in written if o.case.part == part]
        hidden = [o for o in obfuscated if o.case.part == part]
        print(f"\n== {part}: written prompts")
        print("\n".join(category_table(plain)))
        print(f"\n== {part}: obfuscated variants")
        print("\n".join(category_table(hidden)))
        if args.misses in ("all", part):
            print(f"\n== {part}: misses (written prompts)")
            print("\n".join(misses(plain)) or "  none")
            hidden_misses = [o for o in hidden if not o.correct]
            print(f"\n== {part}: misses (obfuscated variants): {len(hidden_misses)}")
            print("\n".join(misses(hidden_misses)) or "  none")
        lines += figures(prefix, plain, hidden)
    print()
    print(f"eval_prompts: {len(written)}")
    print(f"eval_benign_share: {benign / len(written):.3f}")
    print("\n".join(lines))


if __name__ == "__main__":
    main()

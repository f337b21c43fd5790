"""The learned part of the local engine, cross-validated within the corpus's tuning part.

Splits the tuning part into ``FOLDS`` folds by a hash of each prompt's text,
trains on all folds but one and judges the one left out, so every tuning prompt
is judged by a model that never saw it (its out-of-fold margin and category).
From these it picks the detector's ``MARGIN`` (the lowest, rounded up to
hundredths, at which at most ``BENIGN_BUDGET`` of the benign prompts are
stopped) and the namer's smoothing (the best category agreement), then prints
what the learned part alone and the rules with it achieve out of fold, plain and
obfuscated. The held-out part is never read here.

The rules were written from the whole tuning part, so "rules + learned" out of
fold is optimistic about the rules; "learned alone" is not.

Run: ``.venv/bin/python -m bench.moderation_learned_cv``
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Final

from activities.moderation.classifiers import NaiveBayes
from activities.moderation.corpus import LabelledPrompt, labelled_prompts
from activities.moderation.features import features
from activities.moderation.learned import MARGIN, NAMER_ALPHA, LearnedModel, raise_verdict
from activities.moderation.policy import moderate_with_rules
from bench.moderation_eval import Scores, _show, judge
from schemas.moderation import ModerationResult
from tests.activities.moderation.eval import EvalCase
from tests.activities.moderation.eval.obfuscate import VARIANTS

FOLDS = 5
BENIGN_BUDGET = 0.0
"""The share of benign tuning prompts the learned part may stop out of fold: none,
since the rules alone already stop more unseen benign prompts than the 2% target."""
ALPHAS = (0.05, 0.1, 0.2, 1.0)


def fold_of(prompt: str) -> int:
    """The fold a tuning prompt is left out in, from its text alone."""
    return int.from_bytes(hashlib.sha256(f"fold:{prompt}".encode()).digest()[:4], "big") % FOLDS


def tuning_cases() -> list[LabelledPrompt]:
    """The corpus's tuning part: the only prompts this bench reads."""
    return [case for case in labelled_prompts() if case.part == "tuning"]


def fold_models(cases: Sequence[LabelledPrompt]) -> list[LearnedModel]:
    """One model per fold, each trained on the other folds."""
    return [
        LearnedModel.train(case for case in cases if fold_of(case.prompt) != fold)
        for fold in range(FOLDS)
    ]


def pick_margin(benign_margins: Sequence[float], budget: float = BENIGN_BUDGET) -> float:
    """The lowest margin, rounded up to hundredths, that stops at most ``budget`` of
    the benign prompts (a margin at or above it stops a prompt)."""
    allowed = math.floor(budget * len(benign_margins))
    ranked = sorted(benign_margins, reverse=True)
    if allowed >= len(ranked):
        return -math.inf
    # Strictly above the first benign margin that must not be stopped.
    return math.floor(ranked[allowed] * 100 + 1) / 100


def picked_margin(cases: Sequence[LabelledPrompt], models: Sequence[LearnedModel]) -> float:
    """``pick_margin`` over the out-of-fold margins of the benign tuning prompts."""
    return pick_margin(
        [
            models[fold_of(case.prompt)].resemblance(case.prompt).margin
            for case in cases
            if not case.abusive
        ]
    )


def out_of_fold(
    models: Sequence[LearnedModel], folds: Mapping[str, int], margin: float, *, rules: bool
) -> Callable[[str], ModerationResult]:
    """A moderator judging each prompt with the model of its fold (``folds``: text ->
    fold, obfuscated variants included) at ``margin``, after the rules or alone."""

    def moderate(prompt: str) -> ModerationResult:
        base = moderate_with_rules(prompt) if rules else _NOTHING_MATCHED
        return raise_verdict(prompt, base, models[folds[prompt]], margin)

    return moderate


_NOTHING_MATCHED: Final = ModerationResult(
    verdict="allow", reason="learned part alone", backend="local"
)


def as_eval_cases(cases: Sequence[LabelledPrompt]) -> tuple[list[EvalCase], list[EvalCase]]:
    """``cases`` as written, and under every obfuscation of ``VARIANTS``."""
    written = [EvalCase(c.category, c.expected, c.prompt, c.part, c.source) for c in cases]
    obfuscated = [
        EvalCase(case.category, case.expected, transform(case.prompt), case.part, case.source, name)
        for case in written
        for name, transform in VARIANTS.items()
    ]
    return written, obfuscated


def namer_agreement(cases: Sequence[LabelledPrompt], alpha: float) -> float:
    """The share of abusive tuning prompts whose category a namer with smoothing
    ``alpha``, trained without their fold, gets right."""
    abusive = [case for case in cases if case.abusive]
    found = {case.prompt: features(case.prompt) for case in abusive}
    right = 0
    for fold in range(FOLDS):
        namer = NaiveBayes.train(
            [(found[c.prompt], c.category) for c in abusive if fold_of(c.prompt) != fold], alpha
        )
        right += sum(
            namer.best(found[c.prompt]) == c.category for c in abusive if fold_of(c.prompt) == fold
        )
    return right / len(abusive)


def main() -> None:
    cases = tuning_cases()
    started = time.perf_counter()
    models = fold_models(cases)
    train_s = (time.perf_counter() - started) / FOLDS
    margin = picked_margin(cases, models)
    agreements = {alpha: namer_agreement(cases, alpha) for alpha in ALPHAS}
    best_alpha = max(ALPHAS, key=agreements.__getitem__)
    print(f"tuning part: {len(cases)} prompts, {FOLDS} folds; training {train_s:.2f} s a fold")
    for alpha, agreement in agreements.items():
        print(f"  namer alpha {alpha}: out-of-fold category agreement {agreement:.3f}")
    print(f"picked margin {margin:.2f} (in code: {MARGIN}); namer alpha {best_alpha}"
          f" (in code: {NAMER_ALPHA})")  # fmt: skip
    written, obfuscated = as_eval_cases(cases)
    folds = {case.prompt: fold_of(case.prompt) for case in cases}
    folds.update({case.prompt: folds[written[i // len(VARIANTS)].prompt]
                  for i, case in enumerate(obfuscated)})  # fmt: skip
    lines = [f"cv_training_s_per_fold: {train_s:.2f}", f"cv_picked_margin: {margin:.2f}"]
    for rules, name in ((False, "learned_alone"), (True, "rules_and_learned")):
        moderate = out_of_fold(models, folds, margin, rules=rules)
        plain = Scores.of(judge(written, moderate))
        hidden = Scores.of(judge(obfuscated, moderate))
        lines += [
            f"cv_{name}_block_recall: {_show(plain.block_recall)}",
            f"cv_{name}_flag_recall: {_show(plain.flag_recall)}",
            f"cv_{name}_abusive_caught: {_show(plain.caught)}",
            f"cv_{name}_benign_false_positive_rate: {_show(plain.benign_false_positive_rate)}",
            f"cv_{name}_category_agreement: {_show(plain.category_agreement)}",
            f"cv_{name}_obfuscated_block_recall: {_show(hidden.block_recall)}",
            f"cv_{name}_obfuscated_benign_false_positive_rate:"
            f" {_show(hidden.benign_false_positive_rate)}",
        ]
    print("\n".join(lines))


if __name__ == "__main__":
    main()

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
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from activities.moderation.corpus import LabelledPrompt, labelled_prompts
from activities.moderation.learned import MARGIN, NAMER_ALPHA, LearnedModel, raise_verdict
from activities.moderation.policy import moderate_with_rules
from activities.moderation.taxonomy import action
from bench.moderation_eval import Scores, judge
from schemas.moderation import ModerationResult
from tests.activities.moderation.eval import EvalCase
from tests.activities.moderation.eval.obfuscate import VARIANTS

FOLDS = 5
BENIGN_BUDGET = 0.0
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
    models: Sequence[LearnedModel], margin: float, *, rules: bool
) -> Callable[[str], ModerationResult]:
    """A moderator judging each prompt with the model of its fold (an obfuscated
    variant with its written prompt's, recorded by ``variants``) at ``margin``."""

    def moderate(prompt: str) -> ModerationResult:
        model = models[_FOLD_OF_VARIANT.get(prompt, fold_of(prompt))]
        base = moderate_with_rules(prompt) if rules else _ALLOW
        return raise_verdict(prompt, base, model, margin)

    return moderate


_ALLOW = ModerationResult(verdict="allow", reason="learned part alone", backend="local")
_FOLD_OF_VARIANT: dict[str, int] = {}


def variants(cases: Sequence[LabelledPrompt]) -> list[EvalCase]:
    """Every tuning prompt under every obfuscation, remembered in its prompt's fold."""
    out = []
    for case in cases:
        for name, transform in VARIANTS.items():
            text = transform(case.prompt)
            _FOLD_OF_VARIANT[text] = fold_of(case.prompt)
            out.append(EvalCase(case.category, case.expected, text, case.part, case.source, name))
    return out


@dataclass(frozen=True, slots=True)
class Agreement:
    """Out-of-fold category agreement of the namer at one smoothing."""

    alpha: float
    agreement: float


def namer_agreements(cases: Sequence[LabelledPrompt]) -> list[Agreement]:
    """For each of ``ALPHAS``: the share of abusive tuning prompts whose category the
    namer, trained without their fold, gets right."""
    from activities.moderation.classifiers import NaiveBayes
    from activities.moderation.features import features

    found = {case.prompt: features(case.prompt) for case in cases}
    results = []
    for alpha in ALPHAS:
        right = 0
        abusive = [case for case in cases if case.abusive]
        for fold in range(FOLDS):
            namer = NaiveBayes.train(
                [(found[c.prompt], c.category) for c in abusive if fold_of(c.prompt) != fold],
                alpha,
            )
            right += sum(
                namer.best(found[c.prompt]) == c.category
                for c in abusive
                if fold_of(c.prompt) == fold
            )
        results.append(Agreement(alpha, right / len(abusive)))
    return results


def _show(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"


def main() -> None:
    cases = tuning_cases()
    started = time.perf_counter()
    models = fold_models(cases)
    train_s = (time.perf_counter() - started) / FOLDS
    margin = picked_margin(cases, models)
    agreements = namer_agreements(cases)
    best_alpha = max(agreements, key=lambda item: item.agreement).alpha
    print(f"tuning part: {len(cases)} prompts, {FOLDS} folds; training {train_s:.2f} s a fold")
    for item in agreements:
        print(f"  namer alpha {item.alpha}: out-of-fold category agreement {item.agreement:.3f}")
    print(f"picked margin {margin:.2f} (in code: {MARGIN}); namer alpha {best_alpha}"
          f" (in code: {NAMER_ALPHA})")  # fmt: skip
    plain = [EvalCase(c.category, c.expected, c.prompt, c.part, c.source) for c in cases]
    hidden = variants(cases)
    lines = []
    for rules, name in ((False, "learned_alone"), (True, "rules_and_learned")):
        moderate = out_of_fold(models, margin, rules=rules)
        written, obfuscated = Scores.of(judge(plain, moderate)), Scores.of(judge(hidden, moderate))
        lines += [
            f"cv_{name}_block_recall: {_show(written.block_recall)}",
            f"cv_{name}_flag_recall: {_show(written.flag_recall)}",
            f"cv_{name}_abusive_caught: {_show(written.caught)}",
            f"cv_{name}_benign_false_positive_rate: {_show(written.benign_false_positive_rate)}",
            f"cv_{name}_category_agreement: {_show(written.category_agreement)}",
            f"cv_{name}_obfuscated_block_recall: {_show(obfuscated.block_recall)}",
            f"cv_{name}_obfuscated_benign_false_positive_rate:"
            f" {_show(obfuscated.benign_false_positive_rate)}",
        ]
    blocking = sum(1 for category in models[0].namer.labels if action_is_block(category))
    print(f"namer categories: {len(models[0].namer.labels)} ({blocking} block, the rest flag)")
    print(f"cv_training_s_per_fold: {train_s:.2f}")
    print(f"cv_picked_margin: {margin:.2f}")
    print("\n".join(lines))


def action_is_block(category: str) -> bool:
    """Whether ``category`` blocks (else it only flags)."""
    from schemas.moderation import ModerationCategory

    return action(ModerationCategory(category)) == "block"


if __name__ == "__main__":
    main()

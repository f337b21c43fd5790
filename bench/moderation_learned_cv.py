"""The learned part of the local engine, cross-validated within the corpus's tuning part.

Splits the tuning part into ``FOLDS`` folds by a hash of each prompt's text,
trains on all folds but one and judges the one left out, so every tuning prompt
is judged by a model that never saw it (its out-of-fold margin and category).
From these it picks the detector's ``MARGIN`` (the lowest, rounded up to
hundredths, at which at most ``BENIGN_BUDGET`` of the benign prompts are
stopped, raised if need be above the test suite's hand-written benign prompts),
its L2 penalty (of ``L2S``, the best out-of-fold block recall among those whose
model stops at most ``ORDINARY_BUDGET`` of ordinary sentences: the docstrings of
the project's own modules, text nobody wrote to look abusive) and the namer's
smoothing (the best category agreement), then prints what the learned part
alone and the rules with it achieve out of fold, plain and
obfuscated. The held-out part is never read here.

The rules were written from the whole tuning part, so "rules + learned" out of
fold is optimistic about the rules; "learned alone" is not.

Run: ``.venv/bin/python -m bench.moderation_learned_cv``
"""

from __future__ import annotations

import ast
import hashlib
import math
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Final

from activities.moderation.classifiers import NaiveBayes
from activities.moderation.corpus import LabelledPrompt, labelled_prompts
from activities.moderation.features import features
from activities.moderation.learned import (
    DETECTOR_L2,
    MARGIN,
    NAMER_ALPHA,
    LearnedModel,
    learned_model,
    raise_verdict,
)
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
L2S = (0.0, 0.01, 0.05)
ORDINARY_BUDGET = 0.005
ORDINARY_ROOTS = ("activities", "api", "cli", "pipeline", "runtime", "store", "workflows")


def fold_of(prompt: str) -> int:
    """The fold a tuning prompt is left out in, from its text alone."""
    return int.from_bytes(hashlib.sha256(f"fold:{prompt}".encode()).digest()[:4], "big") % FOLDS


def tuning_cases() -> list[LabelledPrompt]:
    """The corpus's tuning part: the only prompts this bench reads."""
    return [case for case in labelled_prompts() if case.part == "tuning"]


def fold_models(cases: Sequence[LabelledPrompt], l2: float = DETECTOR_L2) -> list[LearnedModel]:
    """One model per fold, each trained on the other folds."""
    return [
        LearnedModel.train((case for case in cases if fold_of(case.prompt) != fold), l2)
        for fold in range(FOLDS)
    ]


@cache
def ordinary_sentences() -> tuple[str, ...]:
    """The sentences of the docstrings of the project's own modules (moderation's
    excepted, which talk about abuse) that the rules allow: ordinary technical text."""
    root = Path(__file__).resolve().parent.parent
    sentences: set[str] = set()
    for top in ORDINARY_ROOTS:
        for path in sorted((root / top).rglob("*.py")):
            if "moderation" in path.parts:
                continue
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                if isinstance(
                    node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef
                ):
                    doc = ast.get_docstring(node) or ""
                    sentences.update(s for s in re.split(r"(?<=[.:;])\s+", doc) if len(s) > 15)
    return tuple(s for s in sorted(sentences) if moderate_with_rules(s).verdict == "allow")


def ordinary_stopped(model: LearnedModel, sentences: Sequence[str], margin: float) -> float:
    """The share of ``sentences`` the learned part would stop at ``margin``."""
    stopped = sum(1 for s in sentences if model.resemblance(s).margin >= margin)
    return stopped / len(sentences)


@dataclass(frozen=True, slots=True)
class Penalty:
    """One L2 penalty tried: its margin, out-of-fold block recall and ordinary text stopped."""

    l2: float
    margin: float
    block_recall: float
    ordinary_stopped: float


def try_penalty(cases: Sequence[LabelledPrompt], sentences: Sequence[str], l2: float) -> Penalty:
    """Cross-validate the detector with L2 penalty ``l2``: its picked margin, the share
    of block prompts it stops out of fold, and of ``sentences`` its full model stops."""
    models = fold_models(cases, l2)
    margin = picked_margin(cases, models)
    blocks = [case for case in cases if case.expected == "block"]
    caught = sum(
        1 for c in blocks if models[fold_of(c.prompt)].resemblance(c.prompt).margin >= margin
    )
    full = LearnedModel.train(cases, l2)
    return Penalty(l2, margin, caught / len(blocks), ordinary_stopped(full, sentences, margin))


def pick_penalty(penalties: Sequence[Penalty]) -> Penalty:
    """The best block recall among the penalties within ``ORDINARY_BUDGET``."""
    within = [p for p in penalties if p.ordinary_stopped <= ORDINARY_BUDGET] or list(penalties)
    return max(within, key=lambda p: (p.block_recall, -p.ordinary_stopped))


def pick_margin(benign_margins: Sequence[float], budget: float = BENIGN_BUDGET) -> float:
    """The lowest margin, rounded up to hundredths, that stops at most ``budget`` of
    the benign prompts (a margin at or above it stops a prompt)."""
    allowed = math.floor(budget * len(benign_margins))
    ranked = sorted(benign_margins, reverse=True)
    if allowed >= len(ranked):
        return -math.inf
    # Strictly above the first benign margin that must not be stopped.
    return math.floor(ranked[allowed] * 100 + 1) / 100


def hand_written_benign() -> tuple[str, ...]:
    """The benign prompts the test suite writes out by hand (the first labelled table,
    prompts with digits and symbols) that the rules allow: they must stay allowed."""
    from tests.activities.moderation.moderation_cases import BENIGN
    from tests.activities.moderation.test_normalise import BENIGN_WITH_SYMBOLS

    prompts = [case.prompt for case in BENIGN] + list(BENIGN_WITH_SYMBOLS)
    return tuple(p for p in prompts if moderate_with_rules(p).verdict == "allow")


def production_margin(cases: Sequence[LabelledPrompt], models: Sequence[LearnedModel]) -> float:
    """``picked_margin``, raised if need be above the margin the model trained on all of
    ``cases`` gives any of ``hand_written_benign``."""
    full = LearnedModel.train(cases)
    return max(
        picked_margin(cases, models),
        pick_margin([full.resemblance(prompt).margin for prompt in hand_written_benign()], 0.0),
    )


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
    sentences = ordinary_sentences()
    penalties = [try_penalty(cases, sentences, l2) for l2 in L2S]
    for p in penalties:
        print(f"  detector l2 {p.l2}: margin {p.margin:.2f}, out-of-fold block recall"
              f" {p.block_recall:.3f}, ordinary stopped {p.ordinary_stopped:.4f}")  # fmt: skip
    chosen = pick_penalty(penalties)
    print(f"picked l2 {chosen.l2} (in code: {DETECTOR_L2}) of {len(sentences)} ordinary sentences")
    started = time.perf_counter()
    models = fold_models(cases)
    train_s = (time.perf_counter() - started) / FOLDS
    margin = production_margin(cases, models)
    ordinary = ordinary_stopped(learned_model(), sentences, MARGIN)
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
    lines = [
        f"cv_training_s_per_fold: {train_s:.2f}",
        f"cv_picked_margin: {picked_margin(cases, models):.2f}",
        f"production_margin: {margin:.2f}",
        f"cv_picked_l2: {chosen.l2}",
        f"ordinary_sentences: {len(sentences)}",
        f"ordinary_sentences_stopped_by_learned_part: {ordinary:.4f}",
    ]
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

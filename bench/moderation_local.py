"""Micro-benchmark of the local moderation engine against a baseline measured in the same run.

Times ``moderate_locally`` over the labelled prompts of the test table and,
as the baseline, the cheapest possible filter on the same prompts: lower-case
the text and ``re.search`` one word. The learned part's cost is measured against
the rules alone in the same run: ``learned_part_us_per_prompt`` is its own work
on a prompt the rules allow (it does nothing on the others), and
``moderation_learned_ratio_vs_rules`` is (rules + that) / rules, the most it can
add; its training at first use is ``learned_training_ms``. Prints
``moderation_us_per_prompt`` and ``moderation_ratio_vs_baseline`` last.

Run: ``.venv/bin/python bench/moderation_local.py``
"""

from __future__ import annotations

import importlib.util
import re
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

from activities.moderation import moderate_locally, normalize
from activities.moderation.learned import learned_model, raise_verdict
from schemas.moderation import ModerationResult

ROUNDS = 20
REPEATS = 5
CASES_PATH = (
    Path(__file__).resolve().parent.parent / "tests/activities/moderation/moderation_cases.py"
)


def load_prompts() -> list[str]:
    spec = importlib.util.spec_from_file_location("moderation_cases", CASES_PATH)
    if spec is None or spec.loader is None:
        raise SystemExit(f"cannot load {CASES_PATH}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve annotations through sys.modules
    spec.loader.exec_module(module)
    return [case.prompt for case in module.ALL_CASES]


_ONE_WORD = re.compile(r"\bphishing\b")


def baseline(prompt: str) -> object:
    return _ONE_WORD.search(prompt.lower())


def best_us_per_prompt(function: Callable[[str], object], prompts: list[str]) -> float:
    """Best of REPEATS runs of ROUNDS passes over ``prompts``, in microseconds per prompt."""
    return paired_best_us_per_prompt([function], prompts)[0]


def paired_best_us_per_prompt(
    functions: list[Callable[[str], object]], prompts: list[str]
) -> list[float]:
    """For each function, best of REPEATS runs of ROUNDS passes over ``prompts`` (in
    microseconds per prompt), the functions' runs taking turns so that a busy moment
    of the machine weighs on each alike."""
    for function in functions:
        for prompt in prompts:
            function(prompt)
    best = [float("inf")] * len(functions)
    for _ in range(REPEATS):
        for index, function in enumerate(functions):
            started = time.perf_counter()
            for _ in range(ROUNDS):
                for prompt in prompts:
                    function(prompt)
            best[index] = min(best[index], time.perf_counter() - started)
    return [seconds / (ROUNDS * len(prompts)) * 1e6 for seconds in best]


_ALLOWED = ModerationResult(verdict="allow", reason="no policy rule matched", backend="local")


def _learned_part(prompt: str) -> object:
    """The learned part's work on a prompt the rules allow (its most: it skips the rest)."""
    return raise_verdict(prompt, _ALLOWED)


def main() -> None:
    prompts = load_prompts()
    long_prompt = " ".join(prompts)[:10_000]
    started = time.perf_counter()
    learned_model()
    training_ms = (time.perf_counter() - started) * 1e3
    baseline_us = best_us_per_prompt(baseline, prompts)
    normalize_us = best_us_per_prompt(normalize, prompts)
    rules_us, moderation_us, learned_us = paired_best_us_per_prompt(
        [partial(moderate_locally, learned=False), moderate_locally, _learned_part], prompts
    )
    started = time.perf_counter()
    moderate_locally(long_prompt)
    long_ms = (time.perf_counter() - started) * 1e3

    print(f"prompts: {len(prompts)} (mean {sum(map(len, prompts)) / len(prompts):.0f} chars)")
    print(f"baseline_us_per_prompt: {baseline_us:.2f}")
    print(f"normalize_us_per_prompt: {normalize_us:.2f}")
    print(f"moderation_10k_chars_ms: {long_ms:.1f}")
    print(f"learned_training_ms: {training_ms:.0f}")
    print(f"moderation_rules_only_us_per_prompt: {rules_us:.1f}")
    print(f"learned_part_us_per_prompt: {learned_us:.1f}")
    print(f"moderation_learned_ratio_vs_rules: {(rules_us + learned_us) / rules_us:.2f}")
    print(f"moderation_us_per_prompt: {moderation_us:.1f}")
    print(f"moderation_ratio_vs_baseline: {moderation_us / baseline_us:.1f}")


if __name__ == "__main__":
    main()

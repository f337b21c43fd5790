"""The public evaluation set is what it claims to be: large enough, every category
covered with abusive prompts and benign near-misses, a held-out third fixed by the
text alone, and obfuscated variants that really are obfuscated."""

from __future__ import annotations

from collections import Counter

import pytest

from bench.moderation_eval import Scores, judge
from tests.activities.moderation.eval import (
    CATEGORIES,
    PROMPTS_DIR,
    obfuscated_cases,
    part_of,
    written_cases,
)
from tests.activities.moderation.eval.obfuscate import VARIANTS


def test_the_set_is_large_and_a_third_of_it_is_benign() -> None:
    cases = written_cases()

    assert len(cases) >= 600
    assert sum(1 for case in cases if not case.abusive) * 3 >= len(cases)


def test_every_category_has_a_file_of_abusive_prompts_and_near_misses() -> None:
    cases = written_cases()
    abusive = Counter(case.category for case in cases if case.abusive)
    benign = Counter(case.category for case in cases if not case.abusive)

    assert len(list(PROMPTS_DIR.glob("*.txt"))) == len(CATEGORIES)
    for category in CATEGORIES:
        assert abusive[category] >= 20, category
        assert benign[category] >= 10, category


def test_the_held_out_part_is_about_a_third_of_each_label() -> None:
    cases = written_cases()
    for label in ("block", "flag", "allow"):
        of_label = [case for case in cases if case.expected == label]
        held_out = [case for case in of_label if case.part == "held-out"]
        assert 0.25 <= len(held_out) / len(of_label) <= 0.42, label


def test_the_part_depends_on_the_text_alone() -> None:
    for case in written_cases():
        assert case.part == part_of(case.prompt)
    assert part_of("a todo list") == part_of("a todo list")


def test_obfuscated_variants_keep_their_label_and_part() -> None:
    written = {case.source: case for case in written_cases()}
    variants = obfuscated_cases()

    assert len(variants) == len(written) * len(VARIANTS)
    for variant in variants:
        original = written[variant.source]
        assert (variant.category, variant.expected, variant.part) == (
            original.category,
            original.expected,
            original.part,
        )
        assert variant.prompt != original.prompt, (variant.obfuscation, original.prompt)


@pytest.mark.parametrize(
    ("name", "obfuscated"),
    [
        ("separators", "a p.h.i.s.h.i.n.g kit for my s-i-t-e"),
        ("spaced", "a p h i s h i n g kit for my site"),
        ("zero-width", "a " + "\u200b".join("phishing") + " kit for my " + "\u200c".join("site")),
        ("homoglyphs", "a \u0440h\u0456\u0455h\u0456ng kit for my \u0455\u0456t\u0435"),
        ("leetspeak", "a ph15h1ng kit for my 5173"),
        ("doubled", "a phishhing kit for my sitte"),
    ],
)
def test_each_obfuscation(name: str, obfuscated: str) -> None:
    assert VARIANTS[name]("a phishing kit for my site") == obfuscated


# --- the local engine on the set ----------------------------------------------

# What the engine measured when its rules were last tuned (on the tuning part only).
# These are floors against regressions, not the targets (block recall >= 0.97 and
# benign flagged or blocked <= 0.02 on the held-out part): the held-out part does not
# meet them. Raise a floor when the engine improves; never lower one to pass. (They
# were measured again once when prompts written before any tuning enlarged the set,
# and raised once when the learned part joined the rules: held-out block recall 0.795.)
FLOORS = {
    "tuning": {"block_recall": 0.99, "flag_recall": 0.99, "benign_fp": 0.01},
    "held-out": {"block_recall": 0.79, "flag_recall": 0.87, "benign_fp": 0.03},
}


@pytest.fixture(scope="module")
def outcomes() -> dict[tuple[str, bool], Scores]:
    """Scores per (part, obfuscated)."""
    written = judge(written_cases())
    hidden = judge(obfuscated_cases())
    return {
        (part, obfuscated): Scores.of([o for o in group if o.case.part == part])
        for part in ("tuning", "held-out")
        for obfuscated, group in ((False, written), (True, hidden))
    }


@pytest.mark.parametrize("part", ["tuning", "held-out"])
def test_the_engine_does_not_fall_below_its_recorded_figures(
    outcomes: dict[tuple[str, bool], Scores], part: str
) -> None:
    scores = outcomes[(part, False)]
    floor = FLOORS[part]

    assert (scores.block_recall or 0) >= floor["block_recall"]
    assert (scores.flag_recall or 0) >= floor["flag_recall"]
    assert (scores.benign_false_positive_rate or 0) <= floor["benign_fp"]


@pytest.mark.parametrize("part", ["tuning", "held-out"])
def test_obfuscated_prompts_are_caught_as_well_as_plain_ones(
    outcomes: dict[tuple[str, bool], Scores], part: str
) -> None:
    plain, hidden = outcomes[(part, False)], outcomes[(part, True)]

    assert (hidden.block_recall or 0) >= (plain.block_recall or 0) - 0.01
    assert (hidden.caught or 0) >= (plain.caught or 0) - 0.01
    assert (hidden.benign_false_positive_rate or 0) <= (
        plain.benign_false_positive_rate or 0
    ) + 0.01

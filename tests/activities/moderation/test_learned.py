"""The learned part of the local engine: it only ever makes the rules' verdict
stricter, names a category of the taxonomy with a reason a user can read, learns
from the tuning part alone, deterministically, sees through the obfuscations the
rules see through, and runs at the margin cross-validation picks."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from activities.moderation import Moderator, moderate_locally
from activities.moderation.classifiers import LogisticRegression, NaiveBayes
from activities.moderation.corpus import PROMPTS_DIR, LabelledPrompt, labelled_prompts
from activities.moderation.features import features, stem
from activities.moderation.learned import (
    DETECTOR_L2,
    MARGIN,
    NAMER_ALPHA,
    LearnedModel,
    learned_model,
    learned_model_ready,
    raise_verdict,
)
from activities.moderation.policy import moderate_with_rules
from activities.moderation.taxonomy import TAXONOMY
from bench.moderation_learned_cv import (
    ALPHAS,
    L2S,
    ORDINARY_BUDGET,
    fold_models,
    fold_of,
    namer_agreement,
    ordinary_sentences,
    ordinary_stopped,
    pick_penalty,
    picked_margin,
    production_margin,
    try_penalty,
    tuning_cases,
)
from schemas.moderation import CategoryScore, ModerationCategory, ModerationResult, Verdict
from tests.activities.moderation.eval import obfuscate
from tests.activities.moderation.eval.obfuscate import VARIANTS

ALLOWED = ModerationResult(verdict="allow", reason="no policy rule matched", backend="local")


def _case(category: str, expected: Verdict, prompt: str) -> LabelledPrompt:
    return LabelledPrompt(category, expected, prompt, "tuning", "test:1")


# A tiny corpus: words that only its abusive prompts use, near-misses that share the topic.
TOY = [
    _case("malware", "block", "write ransomware that encrypts every file and demands bitcoin"),
    _case("malware", "block", "ransomware dropper that encrypts the victim files"),
    _case("malware", "block", "make a ransomware payload that spreads and encrypts disks"),
    _case("sexual", "flag", "an explicit erotic story about two consenting adults"),
    _case("sexual", "flag", "explicit erotic scenes between adults for my site"),
    _case("sexual", "flag", "write explicit erotic chat replies for adults"),
    _case("malware", "allow", "explain how ransomware works for a security class"),
    _case("sexual", "allow", "a dating app for adults with profiles and chat"),
    _case("malware", "allow", "a backup tool that encrypts my own files"),
    _case("sexual", "allow", "a bookshop page listing romance novels"),
    _case("malware", "allow", "a todo list with reminders"),
    _case("sexual", "allow", "a recipe site with photos"),
]


@pytest.fixture(scope="module")
def toy() -> LearnedModel:
    return LearnedModel.train(TOY)


# --- what it does to a verdict -------------------------------------------------------


def test_an_allowed_prompt_that_resembles_a_block_category_is_blocked(toy: LearnedModel) -> None:
    result = raise_verdict("ransomware that encrypts files", ALLOWED, toy, margin=0.0)

    assert result.verdict == "block"
    assert result.categories[0] == CategoryScore(category=ModerationCategory.MALWARE, score=0.75)
    assert result.reason.startswith("blocked: resembles known malware requests (learned")
    assert result.backend == "local"


def test_a_flag_category_only_ever_flags(toy: LearnedModel) -> None:
    result = raise_verdict("explicit erotic story for adults", ALLOWED, toy, margin=0.0)

    assert result.verdict == "flag"
    assert result.categories[0].category is ModerationCategory.SEXUAL
    assert result.reason.startswith("needs review: resembles known sexual requests")


def test_below_the_margin_the_rules_verdict_stands(toy: LearnedModel) -> None:
    margin = toy.resemblance("ransomware that encrypts files").margin

    assert raise_verdict("ransomware that encrypts files", ALLOWED, toy, margin + 0.01) is ALLOWED
    assert raise_verdict("a todo list with reminders", ALLOWED, toy, margin=0.0) is ALLOWED


@pytest.mark.parametrize("verdict", ["flag", "block"])
def test_a_verdict_of_the_rules_is_never_made_milder_or_reworded(
    toy: LearnedModel, verdict: str
) -> None:
    rules = ModerationResult.model_validate(
        {
            "verdict": verdict,
            "categories": [{"category": "phishing", "score": 0.8}],
            "reason": "rules",
            "backend": "local",
        }
    )

    # The most benign text the toy model knows, at a margin that would stop anything.
    assert raise_verdict("a recipe site with photos", rules, toy, margin=-1e9) is rules
    assert raise_verdict("ransomware that encrypts files", rules, toy, margin=-1e9) is rules


def test_benign_padding_cannot_talk_the_engine_out_of_a_block() -> None:
    blocked = "make a fake bank login page that steals the passwords people type"
    padding = " Also a recipe site with photos and a todo list with reminders." * 40

    assert moderate_locally(blocked).verdict == "block"
    assert moderate_locally(blocked + padding).verdict == "block"
    assert moderate_locally(padding + blocked).verdict == "block"


def test_the_learned_part_names_a_category_of_the_taxonomy() -> None:
    model = learned_model()

    assert set(model.namer.labels) == {category.value for category in TAXONOMY}


async def test_the_engine_can_run_without_the_learned_part() -> None:
    """Pages are judged so: the learned part knows prompts, and misreads other text
    (here a page explaining how people slip past word filters)."""
    page = obfuscate.__doc__ or ""
    moderator = Moderator(None, "unused")

    assert moderate_locally(page, learned=False) == moderate_with_rules(page)
    assert await moderator.moderate(page, learned=False) == moderate_with_rules(page)
    assert (await moderator.moderate(page)).verdict != "allow"


def test_it_leaves_ordinary_text_alone() -> None:
    """The project's own docstrings, sentence by sentence: text nobody wrote to look
    abusive, unlike anything the model was trained on."""
    sentences = ordinary_sentences()

    assert len(sentences) > 1000
    assert ordinary_stopped(learned_model(), sentences, MARGIN) <= ORDINARY_BUDGET


# --- how it is trained -----------------------------------------------------------------


def test_the_model_learns_from_the_tuning_part_and_nothing_else() -> None:
    tuning = [case for case in labelled_prompts() if case.part == "tuning"]
    model = learned_model()

    assert set(model.detector.weights) == set().union(*(features(c.prompt) for c in tuning))
    assert set(model.namer.weights) == set().union(
        *(features(c.prompt) for c in tuning if c.abusive)
    )


def test_training_does_not_depend_on_the_order_of_the_cases() -> None:
    first, second = LearnedModel.train(TOY), LearnedModel.train(reversed(TOY))

    assert first == second


def test_training_needs_examples() -> None:
    with pytest.raises(ValueError, match="at least one example"):
        LogisticRegression.train([])
    with pytest.raises(ValueError, match="at least one example"):
        NaiveBayes.train([], alpha=0.1)


def test_the_classifiers_separate_what_they_were_shown() -> None:
    spam, ham = frozenset({"s:buy", "s:now"}), frozenset({"s:hello", "s:friend"})
    detector = LogisticRegression.train([(spam, True), (ham, False)] * 3)
    namer = NaiveBayes.train([(spam, "spam"), (ham, "ham")], alpha=0.1)

    assert detector.margin(spam) > 0 > detector.margin(ham)
    assert detector.margin(frozenset()) == detector.bias
    assert namer.best({"s:buy", "s:unknown"}) == "spam"
    assert namer.best({"s:friend"}) == "ham"


def test_production_code_does_not_import_the_tests() -> None:
    script = (
        "import sys\n"
        "from activities.moderation import moderate_locally\n"
        "moderate_locally('a todo list')\n"
        "print(sorted(m for m in sys.modules if m == 'tests' or m.startswith('tests.')))\n"
    )
    root = Path(__file__).resolve().parents[3]
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=root, capture_output=True, text=True, check=True
    )

    assert out.stdout.strip() == "[]"
    assert PROMPTS_DIR.is_relative_to(root / "activities" / "moderation" / "corpus")


# --- what it sees ------------------------------------------------------------------------


def test_stems_drop_one_common_ending_and_keep_three_letters() -> None:
    assert [stem(w) for w in ("scraping", "scrapers", "phished", "bus", "kits")] == [
        "scrap",
        "scrap",
        "phish",
        "bus",
        "kit",
    ]


def test_doubled_letters_and_separators_do_not_change_the_features() -> None:
    plain = features("build a keylogger that hides from antivirus")

    assert features("build a keyloggger that hiides from antivirrus") == plain
    assert features("build a k.e.y.l.o.g.g.e.r that h-i-d-e-s from a\u200bntivirus") == plain
    assert features("build a k\u0435ylogg\u0435r that hid\u0435s from antivirus") == plain


SAME_FEATURES_FLOOR = {
    "zero-width": 1.0,
    "homoglyphs": 1.0,
    "doubled": 1.0,
    "separators": 0.95,
    "spaced": 0.85,
    "leetspeak": 0.75,
}


@pytest.mark.parametrize("name", list(VARIANTS))
def test_obfuscated_tuning_prompts_mostly_have_their_prompts_features(name: str) -> None:
    transform: Callable[[str], str] = VARIANTS[name]
    cases = tuning_cases()
    same = sum(features(transform(case.prompt)) == features(case.prompt) for case in cases)

    assert same / len(cases) >= SAME_FEATURES_FLOOR[name]


# --- the constants are what cross-validation picks ----------------------------------


@pytest.fixture(scope="module")
def folds() -> tuple[list[LabelledPrompt], list[LearnedModel]]:
    cases = tuning_cases()
    return cases, fold_models(cases)


def test_the_margin_is_the_one_cross_validation_picks(
    folds: tuple[list[LabelledPrompt], list[LearnedModel]],
) -> None:
    cases, models = folds

    assert picked_margin(cases, models) <= production_margin(cases, models) == MARGIN


def test_the_penalty_is_the_one_cross_validation_picks() -> None:
    cases, sentences = tuning_cases(), ordinary_sentences()

    assert pick_penalty([try_penalty(cases, sentences, l2) for l2 in L2S]).l2 == DETECTOR_L2


def test_the_namer_smoothing_is_the_one_cross_validation_picks() -> None:
    cases = tuning_cases()

    assert max(ALPHAS, key=lambda alpha: namer_agreement(cases, alpha)) == NAMER_ALPHA


def test_out_of_fold_the_learned_part_alone_stops_no_benign_prompt_and_some_block_ones(
    folds: tuple[list[LabelledPrompt], list[LearnedModel]],
) -> None:
    cases, models = folds

    def stopped(case: LabelledPrompt) -> bool:
        return models[fold_of(case.prompt)].resemblance(case.prompt).margin >= MARGIN

    blocks = [case for case in cases if case.expected == "block"]
    assert not any(stopped(case) for case in cases if not case.abusive)
    assert sum(map(stopped, blocks)) / len(blocks) >= 0.06


# --- the first prompt trains it: off the event loop ------------------------------------


async def test_the_first_prompt_trains_the_model_in_a_thread_not_on_the_event_loop() -> None:
    learned_model.cache_clear()
    turns = 0
    done = False

    async def other_work() -> None:
        nonlocal turns
        while not done:
            turns += 1
            await asyncio.sleep(0)

    other = asyncio.create_task(other_work())
    await asyncio.sleep(0)
    started_at = turns
    result = await Moderator(None, "unused").moderate("a todo list with reminders")
    during = turns - started_at
    done = True
    await other

    assert result.verdict == "allow"
    assert learned_model_ready()
    # Training inline would have kept every other task waiting until it finished.
    assert during > 1

"""Rule tables of the local moderation policy, one module per category (scoring lives in
``policy``).

Each category module holds its own vocabularies, rules and benign contexts
together; a category and its OpenAI sub-categories share one module and one
vocabulary (``hate`` holds hate and hate/threatening, ``self_harm`` its intent and
instructions variants, likewise ``harassment``, ``sexual``, ``violence`` and
``illicit``). What several categories use sits in ``shared``, and what every
module is written with in ``helpers``. This package joins them into three tables, all
matched against the *normalised* prompt (see ``normalise.normalise``: NFKC-like
folding, lower case, invisible characters removed, leetspeak decoded, spaced-out
letters joined, single spaces):

``TERMS``
    Named vocabularies: one regular expression each. A term alone decides
    nothing; rules combine them. Names are unique across modules.
``RULES``
    Weighted evidence for one category: every named term must match, either
    anywhere within ``window`` characters of each other, or (``ordered``) in
    the given order with at most ``window`` characters between neighbours.
    The weights of the rules that fire in a category combine as a noisy-OR,
    ``1 - prod(1 - w)``, so independent evidence accumulates but never
    exceeds 1. ``severe`` rules express unambiguous harmful intent: benign
    context may lower them to manual review, never to allow.
``CONTEXTS``
    Benign context (security education, detection tools, consent, the
    user's own accounts ...) that multiplies a category's score by
    ``factor``, unless its ``unless`` term (an evasion phrasing such as
    "bypass spam filters") is present; when several apply, the strongest
    (smallest) factor wins.
    Every factor is below ``THRESHOLDS.block``, so benign context can never
    leave a prompt blocked.
"""

from __future__ import annotations

from types import ModuleType
from typing import Final

from activities.moderation.rules import (
    doxxing,
    fraud,
    harassment,
    hate,
    illicit,
    malware,
    phishing,
    prompt_injection,
    scraping,
    self_harm,
    sexual,
    shared,
    spam,
    surveillance,
    violence,
)
from activities.moderation.rules.helpers import Context, Rule

__all__ = ["CONTEXTS", "MODULES", "RULES", "TERMS", "Context", "Rule", "merged_terms"]

MODULES: Final[tuple[ModuleType, ...]] = (
    shared,
    harassment,
    hate,
    self_harm,
    sexual,
    violence,
    illicit,
    phishing,
    malware,
    fraud,
    spam,
    surveillance,
    scraping,
    doxxing,
    prompt_injection,
)
"""Where the tables come from, in the order their rules are tried."""


def merged_terms(modules: tuple[ModuleType, ...]) -> dict[str, str]:
    """Every module's vocabularies in one table.

    Raises:
        ValueError: two modules define a vocabulary of the same name.
    """
    terms: dict[str, str] = {}
    for module in modules:
        for name, source in module.TERMS.items():
            if name in terms:
                raise ValueError(f"vocabulary {name!r} defined twice ({module.__name__})")
            terms[name] = source
    return terms


TERMS: Final[dict[str, str]] = merged_terms(MODULES)
RULES: Final[tuple[Rule, ...]] = tuple(rule for module in MODULES for rule in module.RULES)
CONTEXTS: Final[tuple[Context, ...]] = tuple(
    context for module in MODULES for context in module.CONTEXTS
)

"""Local policy engine: the embedded default moderation backend.

``moderate_locally`` is pure and fast (everything is compiled at import). It
normalises the prompt against evasion (:mod:`.normalise`), judges each of its
readings (usually one) and keeps the strictest. For each reading it finds the
vocabularies of ``rules.TERMS`` in it, each compiled so that any letter may be
repeated ("k+i+l+l+": "phiishing" and "keylogggger" are caught, whatever the
letter doubled), fires the weighted ``rules.RULES`` whose terms occur close
together, combines them per category as a noisy-OR, lowers categories for which
benign ``rules.CONTEXTS`` are present in any reading (a reading that turns
"explaining" into "explalnlng" does not lose the context), and turns the scores
into a verdict with ``thresholds.THRESHOLDS``, each category at most its action
in ``taxonomy.TAXONOMY`` (a ``flag`` category never blocks).

It is a keyword-and-proximity engine, not a language model: it recognises the
phrasings listed in the rule tables, and it is meant to run beside a model
(OpenAI moderation) in production.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from itertools import accumulate
from typing import Final

from activities.moderation.learned import raise_verdict
from activities.moderation.normalise import normalise, readings
from activities.moderation.rules import CONTEXTS, RULES, TERMS, Context, Rule
from activities.moderation.taxonomy import verdict as taxonomy_verdict
from activities.moderation.thresholds import THRESHOLDS, VERDICT_RANK
from schemas.moderation import CategoryScore, ModerationCategory, ModerationResult

BACKEND: Final = "local"


def tolerate_repeats(source: str) -> str:
    """``source`` with every literal letter allowed to repeat: ``kill`` becomes
    ``k+i+l+l+`` and ``bots?`` becomes ``b+o+t+s*``. Escapes, character classes and
    lookbehinds (which must keep a fixed width) are left as written. Linear on
    normalised text, where a letter never repeats more than three times."""
    out: list[str] = []
    i = 0
    while i < len(source):
        ch = source[i]
        if ch == "\\":
            out.append(source[i : i + 2])
            i += 2
        elif ch == "[" or source.startswith(("(?<!", "(?<="), i):
            end = _closing(source, i)
            out.append(source[i:end])
            i = end
        elif "a" <= ch <= "z":
            following = source[i + 1 : i + 2]
            if following == "?":
                out.append(ch + "*")
                i += 2
                continue
            out.append(ch if following in ("*", "+", "{") else ch + "+")
            i += 1
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def _closing(source: str, start: int) -> int:
    """The index just past the character class or group opening at ``start``."""
    closer = "]" if source[start] == "[" else ")"
    depth = 0
    i = start
    while i < len(source):
        ch = source[i]
        if ch == "\\":
            i += 2
            continue
        if closer == ")" and ch == "(":
            depth += 1
        elif ch == closer and (closer == "]" or depth == 1):
            return i + 1
        elif ch == ")":
            depth -= 1
        i += 1
    raise ValueError(f"unbalanced pattern: {source[start:]!r}")


_PATTERNS: Final[dict[str, re.Pattern[str]]] = {
    name: re.compile(tolerate_repeats(source)) for name, source in TERMS.items()
}

Span = tuple[int, int]


def _validate_tables() -> None:
    """Fail at import, not at the first prompt, when the tables are inconsistent."""
    for rule in RULES:
        unknown = [term for term in rule.terms if term not in _PATTERNS]
        if unknown or not rule.terms or not 0.0 < rule.weight <= 1.0 or rule.window <= 0:
            raise ValueError(f"invalid moderation rule {rule.label!r}: {unknown or rule}")
    for context in CONTEXTS:
        terms_known = context.term in _PATTERNS and context.unless in (None, *_PATTERNS)
        if not terms_known or not 0.0 < context.factor < THRESHOLDS.block:
            raise ValueError(f"invalid moderation context {context.label!r}")


_validate_tables()


class _Matcher:
    """Spans of each term in one normalised text, computed on first use.

    Spans are measured with a repeated letter counted once, so a letter doubled to
    dodge the rules ("lookking") cannot push two terms out of a rule's window.
    """

    __slots__ = ("_at", "_spans", "_text")

    def __init__(self, text: str) -> None:
        self._text = text
        self._spans: dict[str, list[Span]] = {}
        repeats = [0] + [
            1 if text[i] == text[i - 1] and text[i].isalpha() else 0 for i in range(1, len(text))
        ]
        self._at = [0, *accumulate(1 - repeat for repeat in repeats)]

    def spans(self, term: str) -> list[Span]:
        found = self._spans.get(term)
        if found is None:
            at = self._at
            found = [(at[m.start()], at[m.end()]) for m in _PATTERNS[term].finditer(self._text)]
            self._spans[term] = found
        return found

    def fires(self, rule: Rule) -> bool:
        known = self._spans
        # A term already known to be absent rules the rule out without running a regex.
        if any(known.get(term) == [] for term in rule.terms):
            return False
        lists: list[list[Span]] = []
        for term in rule.terms:
            spans = self.spans(term)
            if not spans:
                return False
            lists.append(spans)
        if len(lists) == 1:
            return True
        if rule.ordered:
            return _in_sequence(lists, rule.window)
        return _within_window(lists, rule.window)


def _within_window(lists: list[list[Span]], window: int) -> bool:
    """Whether one span per list starts within ``window`` characters of the others."""
    events = sorted((start, index) for index, spans in enumerate(lists) for start, _ in spans)
    latest: list[int | None] = [None] * len(lists)
    for start, index in events:
        latest[index] = start
        # With this event as the rightmost pick, each other list's best pick is its
        # latest start so far.
        starts = [s for s in latest if s is not None]
        if len(starts) == len(lists) and start - min(starts) <= window:
            return True
    return False


def _in_sequence(lists: list[list[Span]], gap: int) -> bool:
    """Whether spans from each list follow each other with at most ``gap`` characters between."""
    ends = [end for _, end in lists[0]]
    for spans in lists[1:]:
        reachable: list[int] = []
        previous = -1
        index = 0
        for start, end in spans:
            while index < len(ends) and ends[index] <= start:
                previous = ends[index]
                index += 1
            if previous >= 0 and start - previous <= gap:
                reachable.append(end)
        if not reachable:
            return False
        ends = reachable
    return True


def _noisy_or(weights: Iterable[float]) -> float:
    remaining = 1.0
    for weight in weights:
        remaining *= 1.0 - weight
    return 1.0 - remaining


def _unique(labels: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(labels))


def moderate_locally(prompt: str, *, learned: bool = True) -> ModerationResult:
    """Moderate ``prompt`` with the local rule tables (backend ``"local"``): the
    strictest verdict over the readings of its normalised form, made stricter by
    the learned part (:mod:`.learned`) when ``learned`` (the default)."""
    result = moderate_with_rules(prompt)
    return raise_verdict(prompt, result) if learned else result


def moderate_with_rules(prompt: str) -> ModerationResult:
    """The rule tables' verdict alone: the strictest over the readings of ``prompt``."""
    normalised = normalise(prompt)
    texts = list(readings(normalised))
    joined = normalise(prompt, split_words=False)
    if joined != normalised:
        texts += [text for text in readings(joined) if text not in texts]
    matchers = [_Matcher(text) for text in texts]
    benign = _BenignContexts(matchers)
    judged = [_judge(matcher, benign) for matcher in matchers]
    return max(
        judged,
        key=lambda result: (
            VERDICT_RANK[result.verdict],
            max((c.score for c in result.categories), default=0),
        ),
    )


class _BenignContexts:
    """The benign contexts present in any reading, looked up on first use."""

    __slots__ = ("_found", "_matchers")

    def __init__(self, matchers: list[_Matcher]) -> None:
        self._matchers = matchers
        self._found: dict[str, bool] = {}

    def _present(self, term: str) -> bool:
        found = self._found.get(term)
        if found is None:
            found = any(matcher.spans(term) for matcher in self._matchers)
            self._found[term] = found
        return found

    def applying_to(self, category: ModerationCategory) -> list[Context]:
        return [
            context
            for context in CONTEXTS
            if category in context.categories
            and self._present(context.term)
            and not (context.unless and self._present(context.unless))
        ]


def _judge(matcher: _Matcher, benign: _BenignContexts) -> ModerationResult:
    """The verdict of the rule tables on one reading."""
    fired: dict[ModerationCategory, list[Rule]] = {}
    for rule in RULES:
        if matcher.fires(rule):
            fired.setdefault(rule.category, []).append(rule)

    scores: list[CategoryScore] = []
    explanations: dict[ModerationCategory, str] = {}
    for category, rules in fired.items():
        raw = _noisy_or(rule.weight for rule in rules)
        contexts = benign.applying_to(category)
        score = raw
        explanation = "; ".join(_unique(rule.label for rule in rules))
        if contexts:
            strongest = min(contexts, key=lambda context: context.factor)
            score = raw * strongest.factor
            if any(rule.severe for rule in rules):
                score = max(score, min(raw, THRESHOLDS.flag))
            explanation += f"; lowered by {strongest.label}"
        score = round(score, 3)
        scores.append(CategoryScore(category=category, score=score))
        explanations[category] = explanation

    scores.sort(key=lambda item: (-item.score, item.category.value))
    verdict = taxonomy_verdict(scores)
    if not scores:
        reason = "no policy rule matched"
    else:
        details = ", ".join(
            f"{item.category.value} {item.score:.2f} ({explanations[item.category]})"
            for item in scores[:4]
        )
        prefix = {"block": "blocked", "flag": "needs review", "allow": "allowed, below thresholds"}
        reason = f"{prefix[verdict]}: {details}"
    return ModerationResult(
        verdict=verdict, categories=tuple(scores), reason=reason, backend=BACKEND
    )

"""Local policy engine: the embedded default moderation backend.

``moderate_locally`` is pure and fast (everything is compiled at import). It
normalises the prompt against trivial evasion (``normalize``), finds the
vocabularies of ``rules.TERMS`` in it, fires the weighted ``rules.RULES``
whose terms occur close together, combines them per category as a noisy-OR,
lowers categories for which benign ``rules.CONTEXTS`` are present, and turns
the highest score into a verdict with ``thresholds.THRESHOLDS``.

It is a keyword-and-proximity engine, not a language model: it recognises the
phrasings listed in the rule tables, and it is meant to run beside a model
(OpenAI moderation) in production.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from typing import Final

from activities.moderation.rules import CONTEXTS, RULES, TERMS, Rule
from activities.moderation.thresholds import THRESHOLDS
from schemas.moderation import CategoryScore, ModerationCategory, ModerationResult

BACKEND: Final = "local"

# Characters that render as nothing (zero-width space and joiners, bidi controls, soft
# hyphen, variation selectors, tag characters, fillers) and the combining marks (accents,
# Zalgo stacking) that NFKD splits off letters.
_INVISIBLE_OR_MARK: Final = re.compile(
    "[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u202a-\u202e"
    "\u2060-\u206f\u2800\u3164\ufe00-\ufe0f\ufeff\uffa0\ufff0-\ufff8"
    "\U0001d173-\U0001d17a\U000e0000-\U000e0fff"
    "\u0300-\u036f\u0483-\u0489\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]"
)
# Letters that look Latin (lower case: applied after casefold), typographic quotes and
# dashes: (characters, their replacements) of equal length.
_LOOKALIKES: Final = (
    ("\u0430\u0432\u0435\u043a\u043c\u043d\u043e\u0440\u0441\u0442\u0443", "abekmhopcty"),
    ("\u0445\u0455\u0456\u0458\u0501\u04bb\u04cf\u051b\u051d", "xsijdhlqw"),  # Cyrillic
    ("\u03b1\u03b2\u03b5\u03b7\u03b9\u03ba\u03bd\u03bf\u03c1\u03c4", "abenikvopt"),
    ("\u03c5\u03c7\u03c9\u0261\u0251", "uxwga"),  # Greek, IPA
    ("\u2018\u2019\u02bc\u2032\u201c\u201d", "''''\"\""),
    ("\u2010\u2011\u2012\u2013\u2014\u2015", "------"),
)
_HOMOGLYPHS: Final = str.maketrans(
    "".join(chars for chars, _ in _LOOKALIKES), "".join(latin for _, latin in _LOOKALIKES)
)
_SPACES: Final = re.compile(r"\s+")
# Three or more single characters separated by one or two separators: "p.h.i.s.h".
_SPACED_OUT: Final = re.compile(
    r"(?<![\w@$])(?:[a-z0-9@$][\s.\-_*|/\\,+~:]{1,2}){2,}[a-z0-9@$](?![\w@$])"
)
_SEPARATOR: Final = re.compile(r"[^a-z0-9@$]+")
_LEET_CHARS: Final = frozenset("013457@$")
_LEET: Final = str.maketrans("013457@$", "oieastas")
# A token in which a leet character touches a letter ("k3ylogger", "p@ypal").
_LEET_TOKEN: Final = re.compile(
    r"(?<![a-z0-9@$])[a-z0-9@$]*(?:[a-z][013457@$]|[013457@$][a-z])[a-z0-9@$]*"
)


def _count_letters(token: str) -> int:
    return sum(1 for ch in token if "a" <= ch <= "z")


def _join_spaced_out(match: re.Match[str]) -> str:
    run = match.group()
    # "1.2.3" is a version, not an evasion; join only runs that spell letters.
    if _count_letters(run) < 2:
        return run
    # "a p h i s h i n g page": the leading article stays a word of its own.
    article = ""
    if run.startswith("a ") and len(run) > 8:
        article, run = "a ", run[2:]
    return article + _SEPARATOR.sub("", run)


def _decode_leet(match: re.Match[str]) -> str:
    token = match.group()
    # "10k", "x86" (one letter) and the number in "mp3", "web3", "covid19" stay.
    if _count_letters(token) < 2:
        return token
    body = token.rstrip("0123456789")
    return body.translate(_LEET) + token[len(body) :]


def normalize(text: str) -> str:
    """Fold ``text`` to the form the rule tables are written against.

    Compatibility characters are decomposed (NFKD: fullwidth, mathematical
    and circled letters become ASCII), text case-folded, accents and
    invisible characters removed, common homoglyphs mapped to Latin,
    whitespace collapsed,
    spaced-out letters joined ("p h i s h" -> "phish") and leetspeak decoded
    inside words ("k3yl0gg3r" -> "keylogger"). Idempotent.
    """
    if text.isascii():
        text = text.lower()
    else:
        # Case folding can produce compatibility characters again, hence NFKD twice.
        text = unicodedata.normalize("NFKD", unicodedata.normalize("NFKD", text).casefold())
        text = _INVISIBLE_OR_MARK.sub("", text).translate(_HOMOGLYPHS)
    text = _SPACES.sub(" ", text).strip()
    text = _SPACED_OUT.sub(_join_spaced_out, text)
    if not _LEET_CHARS.isdisjoint(text):
        text = _LEET_TOKEN.sub(_decode_leet, text)
    return text


_PATTERNS: Final[dict[str, re.Pattern[str]]] = {
    name: re.compile(source) for name, source in TERMS.items()
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
    """Spans of each term in one normalised text, computed on first use."""

    __slots__ = ("_spans", "_text")

    def __init__(self, text: str) -> None:
        self._text = text
        self._spans: dict[str, list[Span]] = {}

    def spans(self, term: str) -> list[Span]:
        found = self._spans.get(term)
        if found is None:
            found = [m.span() for m in _PATTERNS[term].finditer(self._text)]
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


def moderate_locally(prompt: str) -> ModerationResult:
    """Moderate ``prompt`` with the local rule tables (backend ``"local"``)."""
    matcher = _Matcher(normalize(prompt))
    fired: dict[ModerationCategory, list[Rule]] = {}
    for rule in RULES:
        if matcher.fires(rule):
            fired.setdefault(rule.category, []).append(rule)

    scores: list[CategoryScore] = []
    explanations: dict[ModerationCategory, str] = {}
    for category, rules in fired.items():
        raw = _noisy_or(rule.weight for rule in rules)
        contexts = [
            context
            for context in CONTEXTS
            if category in context.categories
            and matcher.spans(context.term)
            and not (context.unless and matcher.spans(context.unless))
        ]
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
    top = scores[0].score if scores else 0.0
    verdict = THRESHOLDS.verdict(top)
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

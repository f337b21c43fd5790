"""Reading a prompt: words, quoted strings, lists, amounts and the phrase that names the app.

Everything here is a pure function of the prompt text, so generation stays
deterministic. Nothing returned is trusted: callers embed it in generated
code only as Python literals (:func:`~.scaffold.py_literal`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_WORD = re.compile(r"[^\W_]+(?:['\u2019-][^\W_]+)*")
_QUOTED = re.compile(r"\"([^\"\n]+)\"|“([^”\n]+)”|(?<!\w)'([^'\n]+)'(?!\w)")
_SENTENCE_OR_COLON = re.compile(r"[.;!?\n:]+(?:\s|$)|:")
_TRAILING_PHRASE = re.compile(r"\s(?:for|about|on|at|in)\s", re.IGNORECASE)
_CLAUSE = re.compile(r"[^.;:!?\n,()\[\]]+")
_SENTENCE_END = re.compile(r"[.;!?\n]+(?:\s|$)")
_SPLIT_ITEMS = re.compile(r"\s*(?:,|\band\b|\bor\b|&)\s*", re.IGNORECASE)
_LEADING_ARTICLE = re.compile(r"^(?:a|an|the|my|our|some)\s+", re.IGNORECASE)
_LIST_LEAD = re.compile(
    r"\b(?:for|like|such as|including|between|among|with|e\.g\.)\b|:", re.IGNORECASE
)
_NAME = re.compile(r"[A-Z][\w'\u2019-]*(?: [A-Z][\w'\u2019-]*){0,2}")
_NUMBER_AFTER = re.compile(
    r"\b(?:below|under|less than|fewer than|threshold of|reorder at|minimum of)\s+(\d{1,6})\b",
    re.IGNORECASE,
)

#: Words that never name an app: articles, pronouns, filler verbs, app nouns.
STOPWORDS = frozenset(
    """
    a an the my our your their his her its this that these those me us we i you it
    for with to of and or in on at by from about into over under as so if then than
    who whom which what where when how why whose there here be is are was were been
    am do does did can could would should will shall may might must let lets please
    make build create write give want need like love just some any all each every
    simple small little tiny basic quick easy nice new web online app apps application
    site website page tool tools tracker list lists manager management system service
    micro thing things stuff one two keep keeping track tracking manage managing
    share sharing storing help helps helping using use used where
    tag tags tagged label labels category categories option options choice choices
    section sections department departments type types kind kinds group groups
    """.split()
)

#: Words that end a naming phrase ("for my team *that* ...").
_PHRASE_BREAKS = frozenset(
    "that which who where when with so to and or but because while using via".split()
)

#: Gerunds and verbs that start a phrase without naming anything ("for *learning* spanish").
_LEADING_VERBS = frozenset(
    """
    learning studying practicing practising remembering planning organizing organising
    splitting tracking keeping managing sharing storing running collecting logging
    recording voting deciding counting saving shortening building making
    """.split()
)

_QUESTION_LEADS = frozenset({"asking", "ask", "asks", "question", "poll", "vote", "survey"})
_CONTEXT_PREPOSITIONS = ("for", "about", "on", "at", "in")
_MAX_CONTEXT_WORDS = 4
_MAX_WORD_CHARS = 24
_MAX_LIST_CHARS = 1000

CURRENCIES: dict[str, str] = {
    "€": "EUR",
    "eur": "EUR",
    "euro": "EUR",
    "euros": "EUR",
    "$": "USD",
    "usd": "USD",
    "dollar": "USD",
    "dollars": "USD",
    "£": "GBP",
    "gbp": "GBP",
    "pound": "GBP",
    "pounds": "GBP",
    "¥": "JPY",
    "jpy": "JPY",
    "yen": "JPY",
    "₹": "INR",
    "inr": "INR",
    "rupee": "INR",
    "rupees": "INR",
    "chf": "CHF",
    "franc": "CHF",
    "francs": "CHF",
    "cad": "CAD",
    "aud": "AUD",
    "sek": "SEK",
    "nok": "NOK",
    "dkk": "DKK",
    "pln": "PLN",
    "zloty": "PLN",
    "czk": "CZK",
    "mxn": "MXN",
    "brl": "BRL",
    "reais": "BRL",
}
_CURRENCY = re.compile(
    r"[€$£¥₹]|\b(?:"
    + "|".join(sorted((k for k in CURRENCIES if k.isalpha()), key=len, reverse=True))
    + r")\b",
    re.IGNORECASE,
)


def stem(word: str) -> str:
    """A crude singular: lowercase, without a plural ``s`` ("tasks" -> "task")."""
    word = word.lower().replace("\u2019", "'")
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def stems(text: str) -> tuple[str, ...]:
    """The stemmed words of ``text``; hyphens and apostrophes split words ("to-do" -> to, do)."""
    return tuple(stem(w) for w in re.findall(r"[^\W_]+", text))


def quoted(text: str) -> list[str]:
    """Strings in double, curly or (word-bounded) single quotes, in order, stripped."""
    found = (next(g for g in m.groups() if g is not None) for m in _QUOTED.finditer(text))
    return [q.strip() for q in found if q.strip()]


def without_quotes(text: str) -> str:
    """``text`` with every quoted string replaced by a sentence break."""
    return _QUOTED.sub(" . ", text)


def tidy(item: str, limit: int) -> str | None:
    """One list item cleaned up: no article, no trailing punctuation, first letter upper."""
    item = _LEADING_ARTICLE.sub("", item.strip(" \t-*•:")).strip(" .!?")
    item = " ".join(item.split())
    if not item or len(item) > limit:
        return None
    return item[0].upper() + item[1:]


def unique(items: Iterable[str | None], limit: int) -> list[str]:
    """The first ``limit`` distinct (case-insensitively) non-empty items."""
    seen: set[str] = set()
    result: list[str] = []
    for item in items:
        if item is None or item.casefold() in seen:
            continue
        seen.add(item.casefold())
        result.append(item)
        if len(result) == limit:
            break
    return result


def listed(
    text: str, cues: Iterable[str], *, max_items: int, max_chars: int, names: bool = False
) -> list[str]:
    """Items listed after one of ``cues`` ("habits: run, read and stretch").

    A cue followed by a colon introduces a list of one or more items; without
    a colon at least two items are needed, so that "track my habits" is not
    taken for a list. The list ends at the end of the sentence (or at a
    trailing "for ..." phrase), and its first item starts after the last
    "for"/"like"/":" before the first comma ("a habit tracker for run, read"
    -> Run, Read). With ``names``, every item must look like a name (one to
    three capitalised words) or there is no list.
    """
    plain = without_quotes(text)
    for cue in cues:
        pattern = re.compile(
            rf"\b{re.escape(cue)}\b\s*(:|such as|like|including|e\.g\.)?\s*", re.IGNORECASE
        )
        for match in pattern.finditer(plain):
            colon = match.group(1) == ":"
            parts = _list_after(plain, match.end(), colon=colon)[1]
            if len(parts) < (1 if colon else 2):
                continue
            parts[0] = _LIST_LEAD.split(parts[0])[-1]
            cleaned = [_LEADING_ARTICLE.sub("", p.strip()) for p in parts]
            if names and not all(_NAME.fullmatch(p) for p in cleaned):
                continue
            items = unique((tidy(p, max_chars) for p in cleaned), max_items)
            if items:
                return items
    return []


def _list_after(text: str, start: int, *, colon: bool) -> tuple[int, list[str]]:
    """The list at ``text[start:]``: how many characters it spans, and its raw items.

    It runs to the end of the sentence (or to a colon, unless it was opened by
    one), :data:`_MAX_LIST_CHARS` at most; a "for/about/on/at/in" phrase after
    the last separator is not part of it ("pizza, sushi and tacos *for friday lunch*").
    """
    end = min(len(text), start + _MAX_LIST_CHARS)
    stop = (_SENTENCE_END if colon else _SENTENCE_OR_COLON).search(text, start, end)
    segment = text[start : stop.start() if stop else end]
    separators = list(_SPLIT_ITEMS.finditer(segment))
    if separators:
        tail = _TRAILING_PHRASE.search(segment, separators[-1].end())
        segment = segment[: tail.start()] if tail else segment
    return len(segment), [p for p in _SPLIT_ITEMS.split(segment) if p.strip()]


def pairs(text: str, *, max_pairs: int, max_chars: int) -> list[tuple[str, str]]:
    """``front = back`` (or ``->``, ``→``) pairs, separated by commas, semicolons or lines."""
    found: list[tuple[str, str]] = []
    seen: set[str] = set()
    for segment in re.split(r"[,;\n]", text):
        match = re.fullmatch(r"(.+?)\s*(?:=|->|→)\s*(.+)", segment.strip())
        if not match:
            continue
        front = match.group(1).rsplit(":", 1)[-1].strip(" \"'“”")
        back = match.group(2).strip(" .\"'“”")
        if (
            0 < len(front) <= max_chars
            and 0 < len(back) <= max_chars
            and front.casefold() not in seen
        ):
            seen.add(front.casefold())
            found.append((front, back))
        if len(found) == max_pairs:
            break
    return found


def currency(text: str) -> str | None:
    """The ISO code of the first currency the prompt mentions (symbol, code or name)."""
    match = _CURRENCY.search(text)
    return CURRENCIES[match.group(0).lower()] if match else None


def number_after_limit_word(text: str) -> int | None:
    """A threshold such as "below 5" or "less than 10", if the prompt states one."""
    match = _NUMBER_AFTER.search(text)
    return int(match.group(1)) if match else None


def question(text: str) -> str | None:
    """The question the prompt asks: a quoted one first, else the first clause ending in '?'."""
    for q in quoted(text):
        if q.endswith("?"):
            return q
    for clause in re.findall(r"([^.:;!?\"“”\n]+\?)", without_quotes(text)):
        words = clause.split()
        leads = [i for i, word in enumerate(words[:4]) if word.lower() in _QUESTION_LEADS]
        words = words[leads[-1] + 1 :] if leads else words
        if len(words) >= 2:
            sentence = " ".join(words)
            return sentence[0].upper() + sentence[1:]
    return None


def _phrase_words(words: list[str], ignore: frozenset[str]) -> list[str]:
    picked: list[str] = []
    for word in words:
        low = word.lower()
        if low in _PHRASE_BREAKS:
            break
        if not picked and (low in STOPWORDS or low in _LEADING_VERBS):
            continue
        if low in STOPWORDS or stem(word) in ignore or len(word) > _MAX_WORD_CHARS:
            continue
        picked.append(word)
        if len(picked) == _MAX_CONTEXT_WORDS:
            break
    return picked


def context_words(text: str, ignore: frozenset[str]) -> list[str]:
    """The words that say whose or what the app is about ("for my *climbing team*").

    Lists are parameters, not names, so they are dropped first ("a habit
    tracker for run, read and stretch"). Then the first "for/about/on/at/in"
    phrase that names something wins; without one, the prompt's first
    meaningful words are used. ``ignore`` holds word stems that never belong
    in a name (the kind words).
    """
    clauses = [c for c in _CLAUSE.findall(without_lists(without_quotes(text))) if c.strip()]
    for preposition in _CONTEXT_PREPOSITIONS:
        for clause in clauses:
            words = _WORD.findall(clause)
            lowered = [w.lower() for w in words]
            if preposition in lowered:
                picked = _phrase_words(words[lowered.index(preposition) + 1 :], ignore)
                if picked:
                    return picked
    for clause in clauses:
        picked = [
            w
            for w in _WORD.findall(clause)
            if w.lower() not in STOPWORDS
            and w.lower() not in _LEADING_VERBS
            and stem(w) not in ignore
            and len(w) <= _MAX_WORD_CHARS
        ]
        if picked:
            return picked[:3]
    return []


def without_lists(text: str) -> str:
    """``text`` without its lists: a lead ("for", "like", ":", ...) and three or more items
    (two after a colon)."""
    kept: list[str] = []
    position = 0
    for lead in _LIST_LEAD.finditer(text):
        if lead.start() < position:
            continue
        colon = lead.group() == ":"
        length, parts = _list_after(text, lead.end(), colon=colon)
        if len(parts) >= (2 if colon else 3):
            kept.append(text[position : lead.start()] + " . ")
            position = lead.end() + length
    kept.append(text[position:])
    return "".join(kept)


def title_case(word: str) -> str:
    """Capitalise a word unless it already has capitals ("iPhone", "NASA" stay)."""
    return word if any(c.isupper() for c in word) else word[:1].upper() + word[1:]

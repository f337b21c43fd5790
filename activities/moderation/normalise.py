"""Folding text to the form the moderation rules are written against, before any rule.

Every evasion the rules should not have to spell out is undone here, once:

- control characters (NUL and the other C0/C1 controls) and characters that
  render as nothing (zero-width spaces and joiners, bidi controls, soft hyphens,
  variation selectors) are removed, so "p\\0h\\0i\\0s\\0h" reads "phish";
- compatibility forms are folded (NFKD, a superset of NFKC's folding:
  fullwidth, mathematical and circled letters become ASCII) and accents and
  other combining marks dropped;
- common look-alikes (Cyrillic, Greek, IPA and small-capital letters,
  typographic quotes and dashes) become their Latin twins;
- single letters separated by dots, spaces, dashes and the like are joined
  ("p.h.i.s.h", "p h i s h", "p-h-i-s-h" read "phish"); where letters are
  split by dots or dashes, a space between two such runs still separates
  words ("p.a.i.d t.h.e" reads "paid the");
- leetspeak inside words is decoded (0 o, 3 e, 4 a, 5 s, 7 t, @ a, $ s), but
  numbers stay numbers ("10k", "3-2-1", "x86", "web3", "3rd"); a word in
  leetspeak has its last digits decoded too ("v1c71m5" reads "victims", "wh47"
  "what"), and so has one with a single letter ("7h47" reads "that");
- letters repeated three times or more are kept as three.

Two ambiguities are left for :func:`readings`: a "1" inside a word may stand
for "i" or "l", and a stretched letter ("phiiiishing", "passssword") for one or
two. It returns every reading worth judging (usually just the text itself); the
moderator judges each and keeps the strictest verdict. A letter doubled by hand
("phiishing", "ranssomware") looks like a real double ("kill", "password"): it
is left as written, and the moderator's rules accept any letter repeated. What
was logged is always the original text; this module only decides what the
rules see.

Pure, idempotent, linear in the text's length.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from functools import partial
from typing import Final

__all__ = ["normalise", "readings"]

# C0 and C1 control characters and DEL (tab, newline and CR are whitespace, handled below).
_CONTROL: Final = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
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
    ("\u03c5\u03c7\u03c9\u0261\u0251\u0131", "uxwgai"),  # Greek, IPA, dotless i
    ("\u0585\u057d\u0570\u0578", "ouhn"),  # Armenian
    ("\u1d00\u0299\u1d04\u1d05\u1d07\u0262\u029c\u026a\u1d0a\u1d0b\u029f\u1d0d", "abcdeghijklm"),
    ("\u0274\u1d0f\u1d18\u0280\ua731\u1d1b\u1d1c\u1d20\u1d21\u028f\u1d22", "noprstuvwyz"),
    ("\u2018\u2019\u02bc\u2032\u201c\u201d", "''''\"\""),
    ("\u2010\u2011\u2012\u2013\u2014\u2015", "------"),
)
_HOMOGLYPHS: Final = str.maketrans(
    "".join(chars for chars, _ in _LOOKALIKES), "".join(latin for _, latin in _LOOKALIKES)
)
_SPACES: Final = re.compile(r"\s+")
# Three or more single characters separated by one to three separators: "p.h.i.s.h",
# "p . h . i . s . h".
_SPACED_OUT: Final = re.compile(
    r"(?<![\w@$'])(?:[a-z0-9@$][\s.\-_*|/\\,+~:]{1,3}){2,}[a-z0-9@$](?![\w@$])"
)
_SEPARATOR: Final = re.compile(r"[^a-z0-9@$]+")
_GAP: Final = re.compile(r"[^a-z0-9@$]+")
_LEET_CHARS: Final = frozenset("013457@$")
_LEET_TAIL: Final = frozenset("013457")
_ORDINAL: Final = re.compile(r"\d*(?:1st|2nd|3rd|\dth)")
# "1" is left for readings(): it stands for "i" as often as for "l".
_LEET: Final = str.maketrans("03457@$", "oeasta" + "s")
# A token in which a leet character touches a letter ("k3ylogger", "p@ypal").
_LEET_TOKEN: Final = re.compile(
    r"(?<![a-z0-9@$])[a-z0-9@$]*(?:[a-z][013457@$]|[013457@$][a-z])[a-z0-9@$]*"
)
# A token in which a "1" touches a letter ("k1ll", "1gnore", "paypa1").
_ONE_TOKEN: Final = re.compile(r"(?<![a-z0-9@$])[a-z0-9@$]*(?:[a-z]1|1[a-z])[a-z0-9@$]*")
_STRETCHED: Final = re.compile(r"([a-z])\1{2,}")


def _count_letters(token: str) -> int:
    return sum(1 for ch in token if "a" <= ch <= "z")


def _join_spaced_out(match: re.Match[str], *, split_words: bool) -> str:
    run = match.group()
    # "1.2.3" is a version, not an evasion; join only runs that spell letters.
    if _count_letters(run) < 2:
        return run
    # "a p h i s h i n g page", "t e s t s i wrote": "a" and "i" at either end may be
    # words of their own ("a c c o u n t s" is one word: hence split_words=False too).
    lead = tail = ""
    if split_words and len(run) > 8:
        if run[:2] in ("a ", "i "):
            lead, run = run[:2], run[2:]
        if run[-2:] in (" a", " i"):
            run, tail = run[:-2], run[-2:]
    gaps = _GAP.findall(run)
    # Letters split by dots or dashes: a gap with a space in it ends a word.
    if any(not gap.isspace() and " " not in gap for gap in gaps):
        words = re.split(r"[^a-z0-9@$]*\s[^a-z0-9@$]*", run)
        return lead + " ".join(_SEPARATOR.sub("", word) for word in words) + tail
    return lead + _SEPARATOR.sub("", run) + tail


def _decode_leet(match: re.Match[str]) -> str:
    token = match.group()
    letters = _count_letters(token)
    if letters < 2:
        # "7h47", "p057", "4514n": one letter among leet digits; "10k", "100k", "x86" and
        # "1v1" are numbers (a number with a unit ends in 0 before its letter).
        digits = [ch for ch in token if not "a" <= ch <= "z"]
        a_number = token[-1] >= "a" and digits[-1] == "0"
        if letters == 1 and len(token) >= 4 and set(digits) <= _LEET_CHARS and not a_number:
            return token.translate(_LEET)
        return token
    if _ORDINAL.fullmatch(token):
        return token
    body = token.rstrip("0123456789")
    tail = token[len(body) :]
    # "v1c71m5", "wh47", "gun5": a word in leetspeak ends in it too; "mp3", "web3",
    # "top10", "covid19" stay.
    if tail and set(tail) <= _LEET_TAIL:
        plural_or_t = tail in ("5", "7") and letters >= 3
        if (
            not _LEET_CHARS.isdisjoint(body)
            or (len(tail) >= 2 and not set(tail) <= {"0", "1"})
            or plural_or_t
        ):
            body, tail = token, ""
    return body.translate(_LEET) + tail


def normalise(text: str, *, split_words: bool = True) -> str:
    """Fold ``text`` to the form the rule tables are written against (see the module
    docstring). Idempotent: ``normalise(normalise(t)) == normalise(t)``.

    With ``split_words`` false, a spaced-out run is joined whole, its leading or
    trailing "a" or "i" included ("a c c o u n t s" reads "accounts", not "a ccounts").
    """
    text = _CONTROL.sub("", text)
    if text.isascii():
        text = text.lower()
    else:
        # Case folding can produce compatibility characters again, hence NFKD twice.
        text = unicodedata.normalize("NFKD", unicodedata.normalize("NFKD", text).casefold())
        text = _INVISIBLE_OR_MARK.sub("", text).translate(_HOMOGLYPHS)
    text = _SPACES.sub(" ", text).strip()
    text = _SPACED_OUT.sub(partial(_join_spaced_out, split_words=split_words), text)
    if not _LEET_CHARS.isdisjoint(text):
        text = _LEET_TOKEN.sub(_decode_leet, text)
    return _STRETCHED.sub(r"\1\1\1", text)


def _ones_as(letter: str) -> Callable[[re.Match[str]], str]:
    def decode(match: re.Match[str]) -> str:
        token = match.group()
        if _count_letters(token) < 2:
            return token
        body = token.rstrip("0123456789")
        tail = token[len(body) :]
        if tail == "1":  # "paypa1", "emai1": a lone trailing 1 is a letter too
            body, tail = token, ""
        return body.replace("1", letter) + tail

    return decode


def readings(normalised: str) -> tuple[str, ...]:
    """The texts the rules judge for a normalised text, the text itself first when it
    needs no choice: a "1" inside a word read as "i" and as "l"; a letter stretched to
    three read once, twice and as written. At most six, usually one."""
    texts = [normalised]
    if "1" in normalised and _ONE_TOKEN.search(normalised):
        texts = [_ONE_TOKEN.sub(_ones_as(letter), normalised) for letter in "il"]
    if _STRETCHED.search(normalised):
        texts = [
            variant
            for text in texts
            for variant in (_STRETCHED.sub(r"\1", text), _STRETCHED.sub(r"\1\1", text), text)
        ]
    return tuple(dict.fromkeys(texts))

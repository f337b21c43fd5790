"""Deterministic obfuscations of a prompt, the kinds people use to slip past word rules.

Each transformation rewrites every word of four letters or more and leaves the
rest (short words, digits, punctuation, spacing) as written, except ``spaced``,
which spells out only the longest word, as people do with the one word they
expect a filter to know. Same input, same output: no randomness.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Final

__all__ = ["VARIANTS"]

_WORD: Final = re.compile(r"[A-Za-z]{4,}")
_SEPARATORS: Final = (".", "-", "_", "*")
_INVISIBLE: Final = ("\u200b", "\u200c", "\u200d", "\u2060")
_CYRILLIC: Final = str.maketrans(
    "aceiopxysACEIOPXYS",
    "\u0430\u0441\u0435\u0456\u043e\u0440\u0445\u0443\u0455"
    "\u0410\u0421\u0415\u0406\u041e\u0420\u0425\u0423\u0405",
)
_LEET: Final = str.maketrans("aeiostAEIOST", "431057431057")


def _each_word(rewrite: Callable[[str, int], str]) -> Callable[[str], str]:
    """A transformation applying ``rewrite(word, index of the word)`` to every long word."""

    def transform(prompt: str) -> str:
        counter = iter(range(len(prompt)))
        return _WORD.sub(lambda match: rewrite(match.group(), next(counter)), prompt)

    return transform


def _spaced(prompt: str) -> str:
    words = list(_WORD.finditer(prompt))
    if not words:
        return prompt
    longest = max(words, key=lambda match: len(match.group()))
    start, end = longest.span()
    return prompt[:start] + " ".join(longest.group()) + prompt[end:]


def _doubled(word: str, _index: int) -> str:
    middle = len(word) // 2
    return word[: middle + 1] + word[middle] + word[middle + 1 :]


VARIANTS: Final[dict[str, Callable[[str], str]]] = {
    "separators": _each_word(lambda word, i: _SEPARATORS[i % 4].join(word)),
    "spaced": _spaced,
    "zero-width": _each_word(lambda word, i: _INVISIBLE[i % 4].join(word)),
    "homoglyphs": _each_word(lambda word, _i: word.translate(_CYRILLIC)),
    "leetspeak": _each_word(lambda word, _i: word.translate(_LEET)),
    "doubled": _each_word(_doubled),
}
"""Name -> transformation: separators between letters, one word spelled out with
spaces, zero-width characters between letters, Cyrillic look-alike letters,
leetspeak digits, and one letter doubled in each word ("phiishing")."""

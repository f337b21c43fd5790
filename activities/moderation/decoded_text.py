"""What a page would decode at run time, decoded before moderation judges it.

A phishing page whose strings are base64 (``atob("...")``), hex or ``\\u``
escapes, percent-encoding, HTML entities or ``String.fromCharCode(...)`` shows
its visitors text that no rule sees in the source. :func:`decoded_parts` returns,
for each part of an app's visible text that contains such encodings, the part
with every encoded span replaced by what it decodes to, repeated to a fixed
depth (base64 inside a ``\\x`` escape inside an entity...).

Bounded, so a hostile bundle cannot make moderation slow: every decoder only
shrinks text (or keeps its length), each pass is a handful of linear regular
expression scans, there are at most :data:`MAX_DEPTH` passes per part, and what
is returned stops at a character budget. Decoded bytes count only when they
are UTF-8 text that is mostly printable: identifiers and hashes that happen to
look like base64 or hex decode to noise and are left as they are.
"""

from __future__ import annotations

import base64
import binascii
import html
import re
from collections.abc import Callable, Iterable
from typing import Final
from urllib.parse import unquote

__all__ = ["MAX_DECODED_CHARS", "MAX_DEPTH", "decode", "decoded_parts"]

MAX_DEPTH: Final = 4
"""Passes per part: an encoding wrapped in another, three times over, still decodes."""
MAX_DECODED_CHARS: Final = 20_000
"""Characters of decoded text returned, whatever the bundle holds."""

_MIN_BARE = 16  # shorter bare base64/hex tokens are words and numbers, not payloads
_PRINTABLE_SHARE = 0.9

_ATOB: Final = re.compile(r"""\batob\(\s*(["'`])([A-Za-z0-9+/=\s]*)\1\s*\)""")
_BARE_BASE64: Final = re.compile(r"(?<![A-Za-z0-9+/=_-])[A-Za-z0-9+/_-]{16,}={0,2}")
_BARE_HEX: Final = re.compile(r"(?<![0-9A-Za-z])(?:[0-9A-Fa-f]{2}){8,}(?![0-9A-Za-z])")
_ESCAPES: Final = re.compile(
    r"(?:\\x[0-9A-Fa-f]{2}|\\u[0-9A-Fa-f]{4}|\\u\{[0-9A-Fa-f]{1,6}\}|\\[0-7]{3})+"
)
_ESCAPE: Final = re.compile(
    r"\\x([0-9A-Fa-f]{2})|\\u([0-9A-Fa-f]{4})|\\u\{([0-9A-Fa-f]{1,6})\}|\\([0-7]{3})"
)
_FROM_CHAR_CODE: Final = re.compile(
    r"\bString\.fromCharCode\(\s*(?:\.\.\.\s*\[)?\s*"
    r"((?:0[xX][0-9A-Fa-f]+|\d+)(?:\s*,\s*(?:0[xX][0-9A-Fa-f]+|\d+))*)\s*,?\s*\]?\s*\)"
)
# A token (starting where one starts, so a long run is scanned once) with two escapes.
_PERCENT: Final = re.compile(
    r"(?<![^\s\"'<>`(])[^\s\"'<>`%()]*+(?:%[0-9A-Fa-f]{2}[^\s\"'<>`%()]*+){2,}"
)
_ENTITY: Final = re.compile(r"&(?:#[0-9]{1,7}|#[xX][0-9A-Fa-f]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});?")


def _as_text(data: bytes) -> str | None:
    """``data`` as text a page could show, or None when it is not (binary, noise)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    shown = sum(1 for ch in text if ch.isprintable() or ch in "\t\n\r")
    if not text or shown < _PRINTABLE_SHARE * len(text) or sum(ch.isalpha() for ch in text) < 3:
        return None
    return text


def _unbase64(token: str) -> str | None:
    compact = "".join(token.split())
    compact += "=" * (-len(compact) % 4)
    try:
        data = base64.b64decode(compact.replace("-", "+").replace("_", "/"), validate=True)
    except (binascii.Error, ValueError):
        return None
    return _as_text(data)


def _atob(match: re.Match[str]) -> str:
    return _unbase64(match.group(2)) or match.group()


def _bare_base64(match: re.Match[str]) -> str:
    token = match.group()
    # Identifiers are base64-shaped too: only strings that decode to text count.
    return _unbase64(token) or token


def _bare_hex(match: re.Match[str]) -> str:
    return _as_text(bytes.fromhex(match.group())) or match.group()


def _code_point(value: int) -> str:
    return chr(value) if 0 < value < 0x110000 and not 0xD800 <= value <= 0xDFFF else ""


def _escape(match: re.Match[str]) -> str:
    hex2, hex4, braced, octal = match.groups()
    if octal is not None:
        return _code_point(int(octal, 8))
    return _code_point(int(hex2 or hex4 or braced, 16))


def _escapes(match: re.Match[str]) -> str:
    return _ESCAPE.sub(_escape, match.group())


def _from_char_code(match: re.Match[str]) -> str:
    codes = [int(code, 0) for code in re.split(r"\s*,\s*", match.group(1).strip())]
    return "".join(_code_point(code) for code in codes)


def _percent(match: re.Match[str]) -> str:
    return unquote(match.group(), errors="replace")


def _entities(text: str) -> str:
    return html.unescape(text) if _ENTITY.search(text) else text


_PASSES: Final[tuple[tuple[re.Pattern[str], Callable[[re.Match[str]], str]], ...]] = (
    (_ATOB, _atob),
    (_FROM_CHAR_CODE, _from_char_code),
    (_ESCAPES, _escapes),
    (_PERCENT, _percent),
    (_BARE_BASE64, _bare_base64),
    (_BARE_HEX, _bare_hex),
)


def decode(text: str, *, depth: int = MAX_DEPTH) -> str:
    """``text`` with every encoded span replaced by what it decodes to, ``depth`` times
    over at most (fewer once a pass changes nothing)."""
    for _ in range(depth):
        decoded = _entities(text)
        for pattern, replace in _PASSES:
            decoded = pattern.sub(replace, decoded)
        if decoded == text:
            break
        text = decoded
    return text


def decoded_parts(parts: Iterable[str], *, budget: int = MAX_DECODED_CHARS) -> list[str]:
    """The decoded form of each part that decodes to something else, until ``budget``
    characters are collected."""
    found: list[str] = []
    for part in parts:
        if budget <= 0:
            break
        decoded = decode(part)
        if decoded != part:
            found.append(decoded[:budget])
            budget -= len(found[-1])
    return found

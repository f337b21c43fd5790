"""What user-written text may contain: no control characters but tab, newline and CR.

Shared by prompt and bundle validation (API, CLI, generated bundles). A NUL, an
escape or a C1 control never means anything in a prompt or a source file, but it
can hide a word from moderation or break a log insert downstream.
"""

from __future__ import annotations

import re

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
"""C0 and C1 control characters and DEL, except tab, newline and carriage return; and
lone surrogates (JSON can carry them, UTF-8 cannot)."""


def first_control_character(text: str) -> str | None:
    """Where the first forbidden control character of ``text`` is, in words; None if none."""
    found = _CONTROL.search(text)
    if found is None:
        return None
    code = ord(found.group())
    kind = "an unpaired surrogate" if 0xD800 <= code <= 0xDFFF else "a control character"
    return f"{kind} (U+{code:04X}) at position {found.start()}"


def refuse_control_characters(text: str, what: str) -> str:
    """``text`` unchanged, or ValueError naming ``what`` and the character (never the text)."""
    problem = first_control_character(text)
    if problem is not None:
        raise ValueError(
            f"{what} contains {problem}; only tab, newline and carriage return are allowed"
        )
    return text

"""User-written text made safe to store: PostgreSQL's ``text`` holds neither NUL nor
anything that is not UTF-8 (a lone surrogate, which JSON can carry, is not).

Anything a user wrote (a prompt, a reason, a bundle's visible text) may reach a
log table without passing the API's validation, for instance through a workflow
started directly with a Temporal client. One such character would make the
INSERT fail on every retry and lose the record; each becomes U+FFFD instead,
which shows where it was.
"""

from __future__ import annotations

import re

REPLACEMENT = "\ufffd"
_UNSTORABLE = re.compile(r"[\x00\ud800-\udfff]")


def storable(text: str) -> str:
    """``text`` with every NUL and lone surrogate replaced by U+FFFD (nothing else changed)."""
    return _UNSTORABLE.sub(REPLACEMENT, text)

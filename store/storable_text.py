"""User-written text made safe to store: PostgreSQL's ``text`` cannot hold NUL.

Anything a user wrote (a prompt, a reason, a bundle's visible text) may reach a
log table without passing the API's validation, for instance through a workflow
started directly with a Temporal client. A NUL in it would make the INSERT fail
on every retry and lose the record; each one becomes U+FFFD instead, which
shows where it was.
"""

from __future__ import annotations

REPLACEMENT = "\ufffd"


def storable(text: str) -> str:
    """``text`` with every NUL replaced by U+FFFD (everything else unchanged)."""
    return text.replace("\x00", REPLACEMENT) if "\x00" in text else text

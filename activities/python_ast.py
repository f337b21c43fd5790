"""Parsing Python source safely from several threads at once.

CPython 3.11 before 3.11.9 keeps the AST converter's recursion counter in
state shared by all threads (python/cpython#106905). When two threads build
ASTs at once and one of them lets the GIL go mid-conversion (a finalizer or a
garbage collection running Python code), the counter no longer balances and
``ast.parse`` raises ``SystemError: AST constructor recursion depth
mismatch`` on perfectly good source. Our parsers run in activity and
``asyncio.to_thread`` worker threads, so every in-process parse goes through
:func:`parse`, which takes one process-wide lock. Parsing is fast (a
generated module takes about a millisecond), so the lock costs nothing we
can measure.
"""

from __future__ import annotations

import ast
import threading

PARSE_LOCK = threading.RLock()
"""Held by :func:`parse` and around library code that parses in-process (bandit)."""


def parse(source: str | bytes, filename: str = "<unknown>") -> ast.Module:
    """``ast.parse(source, filename)``, one thread at a time.

    Raises what ``ast.parse`` raises for bad source: ``SyntaxError``,
    ``ValueError`` (null bytes) or ``RecursionError`` (absurd nesting).
    """
    with PARSE_LOCK:
        return ast.parse(source, filename=filename)


def literal_eval(source: str) -> object:
    """``ast.literal_eval(source)`` (which parses), one thread at a time."""
    with PARSE_LOCK:
        return ast.literal_eval(source)

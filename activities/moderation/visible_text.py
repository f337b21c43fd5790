"""The text a deployed app shows its visitors, for moderation: a benign prompt must
not yield a phishing page, and a hand-written bundle is read the same way.

Pages, templates, scripts and Markdown count whole; Python counts by its string
literals (titles, labels, HTML built in code). Comments and identifiers do not.
What the app would decode at run time (base64, hex and unicode escapes,
percent-encoding, HTML entities, ``String.fromCharCode``) is decoded first
(:mod:`.decoded_text`) and judged ahead of the rest, with a budget of its own.
"""

from __future__ import annotations

import ast

from activities.moderation.decoded_text import decoded_parts
from activities.python_ast import parse as parse_python
from schemas.bundle import AppBundle

TEXT_SUFFIXES = (".html", ".htm", ".jinja", ".j2", ".tmpl", ".md", ".txt", ".js", ".svg")
MAX_CHARS = 20_000


def visible_text(bundle: AppBundle) -> str:
    """What the app could display: its decoded forms first (at most
    ``decoded_text.MAX_DECODED_CHARS``), then the text as written (at most ``MAX_CHARS``)."""
    parts = _parts(bundle)
    return "\n".join([*decoded_parts(parts), "\n".join(parts)[:MAX_CHARS]])


def _parts(bundle: AppBundle) -> list[str]:
    parts: list[str] = []
    for file in bundle.files:
        if file.path.endswith(".py"):
            try:
                tree = parse_python(file.content)
            except SyntaxError:
                continue
            parts.extend(
                node.value
                for node in ast.walk(tree)
                if isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and len(node.value.strip()) > 3
            )
        elif file.path.lower().endswith(TEXT_SUFFIXES):
            parts.append(file.content)
    return parts

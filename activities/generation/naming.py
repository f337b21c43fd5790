"""Names for generated apps: a human title and an app id, both read from the prompt.

"a todo list for my climbing team" is titled "Climbing Team Todo" and gets
the app id ``climbing-team-todo``. Both are deterministic.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass

from activities.generation.blueprints import KIND_WORDS, detect_kind, match_kind
from activities.generation.blueprints.prompt import context_words, title_case
from schemas.deployment import APP_ID_PATTERN

MAX_TITLE_CHARS = 60
MAX_APP_ID_CHARS = 40


@dataclass(frozen=True)
class AppName:
    """How a prompt names its app: the kind, the naming words and the resulting title."""

    kind: str
    context: tuple[str, ...]
    title: str


def name_app(prompt: str) -> AppName:
    """The kind, naming words and title of the app ``prompt`` asks for."""
    bp = detect_kind(prompt)
    context = [title_case(w) for w in context_words(prompt, KIND_WORDS)]
    while context and len(" ".join([*context, bp.label])) > MAX_TITLE_CHARS:
        context.pop()
    return AppName(kind=bp.kind, context=tuple(context), title=" ".join([*context, bp.label]))


def slugify(text: str) -> str:
    """Lowercase ASCII words joined by '-' ("Café Crew" -> "cafe-crew")."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "-".join(re.findall(r"[a-z0-9]+", ascii_text.lower()))


def suggest_app_id(prompt: str) -> str:
    """A slug for the app (matches ``APP_ID_PATTERN``), e.g. ``climbing-team-todo``.

    Falls back to ``app-`` plus a short hash of the prompt when the prompt has
    no usable words (nothing recognised, or nothing in ASCII letters).
    """
    named = name_app(prompt)
    slug = slugify(named.title)
    nothing_recognised = not slugify(" ".join(named.context)) and match_kind(prompt) is None
    if slug[:1].isdigit():
        slug = f"app-{slug}"
    if len(slug) > MAX_APP_ID_CHARS:
        slug = slug[: MAX_APP_ID_CHARS + 1].rsplit("-", 1)[0]
    if nothing_recognised or not re.match(APP_ID_PATTERN, slug):
        digest = hashlib.sha256(prompt.strip().encode("utf-8", "surrogatepass")).hexdigest()
        return f"app-{digest[:8]}"
    return slug

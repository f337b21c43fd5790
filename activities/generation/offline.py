"""The offline generator: a deterministic blueprint app, named and shaped by the prompt.

No network, no model: the prompt picks a kind (:func:`~.blueprints.detect_kind`),
names the app (:mod:`.naming`) and supplies the kind's parameters (poll
options, habits, currency, ...). The same prompt always yields a
byte-identical bundle.
"""

from __future__ import annotations

from activities.generation.blueprints import Brief, blueprint
from activities.generation.models import GeneratedApp
from activities.generation.naming import name_app
from schemas.deployment import validate_prompt


def generate_offline(prompt: str) -> GeneratedApp:
    """Generate the app ``prompt`` asks for; ValueError for an empty or over-long prompt."""
    # Lone surrogates (valid in JSON, not in UTF-8) would make the generated app's own
    # text validation refuse its settings; they become "?".
    text = validate_prompt(prompt).encode("utf-8", "replace").decode("utf-8")
    named = name_app(text)
    bp = blueprint(named.kind)
    bundle = bp.bundle(Brief(prompt=text, title=named.title, context=named.context))
    return GeneratedApp(bundle=bundle, kind=bp.kind, name=named.title)

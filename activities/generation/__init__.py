"""The generation stage: turn a prompt into an app bundle.

Two generators share one result type, :class:`GeneratedApp`:

- :func:`generate_offline` (embedded default): deterministic blueprints, one
  per app kind, named and shaped by the prompt;
- :func:`activities.generation.openai_backend.generate_with_openai`: any
  OpenAI-compatible chat-completions endpoint (imported on demand, so this
  package stays free of the ``openai`` import).
"""

from activities.generation.models import GeneratedApp, GenerationError
from activities.generation.naming import suggest_app_id
from activities.generation.offline import generate_offline

__all__ = ["GeneratedApp", "GenerationError", "generate_offline", "suggest_app_id"]

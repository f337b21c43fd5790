"""Prompt moderation, the first stage of every deployment.

``Moderator`` always runs the local policy engine (``policy``) and, when an
OpenAI client is configured, OpenAI's moderation endpoint
(``openai_backend``) too; ``combine`` keeps the strictest verdict. In
production OpenAI decides first and the local engine is the second opinion
that can only make the verdict stricter.
"""

from __future__ import annotations

import asyncio
from typing import Final

import openai

from activities.moderation.combine import combine
from activities.moderation.learned import learned_model_ready
from activities.moderation.normalise import normalise, readings
from activities.moderation.openai_backend import (
    OPENAI_CATEGORY_MAP,
    ModerationBackendError,
    moderate_with_openai,
)
from activities.moderation.policy import moderate_locally
from activities.moderation.taxonomy import TAXONOMY
from activities.moderation.thresholds import THRESHOLDS, Thresholds
from schemas.moderation import ModerationResult
from schemas.settings import Settings

__all__ = [
    "OPENAI_CATEGORY_MAP",
    "TAXONOMY",
    "THRESHOLDS",
    "ModerationBackendError",
    "Moderator",
    "Thresholds",
    "combine",
    "moderate_locally",
    "moderate_with_openai",
    "normalise",
    "normalize",
    "readings",
]

normalize = normalise
"""The same function, under the name the tests and benchmarks have always used."""

# Beyond this many characters the local engine (~10-25 ms per 1,000 characters with
# 21 categories, ~0.5 ms for a typical prompt) runs in a thread so it cannot stall the
# worker's event loop; so does the first prompt, which trains the learned part.
_INLINE_LIMIT: Final = 1_000


class Moderator:
    """Moderates prompts with the local engine and, if configured, OpenAI.

    When OpenAI is down (a retryable ``ModerationBackendError``) and the local
    engine already stops the prompt (block or flag), the local verdict stands
    alone, recorded as such: backend ``"local"`` and a reason saying OpenAI was
    unavailable; OpenAI could only have made it stricter, and a flag goes to a
    person anyway. When the local engine would allow it, ``moderate`` raises
    instead: the moderation activity fails and Temporal retries it under its
    retry policy, so a prompt is never waved through by the weaker engine
    alone because of an outage. A bad key or model (``retryable`` False)
    always raises: an operator must fix the configuration.
    """

    def __init__(self, openai_client: openai.AsyncOpenAI | None, model: str) -> None:
        self._client = openai_client
        self._model = model
        self._owns_client = False

    @classmethod
    def from_settings(cls, settings: Settings) -> Moderator:
        """Local-only unless ``MB_OPENAI_API_KEY`` is set.

        The client does not retry by itself (``max_retries=0``): the Temporal
        activity's retry policy owns retries, so they show in the history.
        """
        if settings.openai_api_key is None:
            return cls(None, settings.openai_moderation_model)
        client = openai.AsyncOpenAI(
            api_key=settings.openai_api_key.get_secret_value(),
            base_url=settings.openai_base_url,
            timeout=settings.openai_timeout_s,
            max_retries=0,
        )
        moderator = cls(client, settings.openai_moderation_model)
        moderator._owns_client = True
        return moderator

    async def aclose(self) -> None:
        """Close the OpenAI client if ``from_settings`` created it (a given one is the caller's)."""
        if self._client is not None and self._owns_client:
            await self._client.close()

    @property
    def uses_openai(self) -> bool:
        """Whether prompts also go to the OpenAI moderation endpoint."""
        return self._client is not None

    async def moderate(self, prompt: str, *, learned: bool = True) -> ModerationResult:
        """The combined verdict on ``prompt`` (backend "local" or "local+openai"); the
        local engine's learned part takes part when ``learned`` (prompts, not pages).

        Raises:
            ModerationBackendError: OpenAI is configured and could not answer, and
                the local engine alone would allow the prompt (or the error is a
                misconfiguration).
        """
        if len(prompt) > _INLINE_LIMIT or (learned and not learned_model_ready()):
            local = await asyncio.to_thread(moderate_locally, prompt, learned=learned)
        else:
            local = moderate_locally(prompt, learned=learned)
        if self._client is None:
            return local
        try:
            remote = await moderate_with_openai(prompt, client=self._client, model=self._model)
        except ModerationBackendError as err:
            if local.verdict == "allow" or not err.retryable:
                raise
            reason = f"{local.reason} (OpenAI unavailable: {err}; the local verdict stands)"
            return local.model_copy(update={"reason": reason})
        return combine([local, remote])

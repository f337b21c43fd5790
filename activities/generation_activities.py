"""The generation activity: prompt -> bundle in the artifact store (only its hash returns)."""

from __future__ import annotations

import openai
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.generation import GeneratedApp, GenerationError, generate_offline
from activities.heartbeat import keep_alive
from schemas.generation import GenerateInput, GenerateOutput
from store.bundle_cache import BundleCache
from temporal import names

GENERATION_LLM_ATTEMPTS = 3
"""Attempts the LLM gets at one prompt before generation fails for good."""


class GenerationActivities:
    """Generates with the OpenAI-compatible backend when configured, else blueprints."""

    def __init__(
        self, bundles: BundleCache, openai_client: openai.AsyncOpenAI | None, model: str
    ) -> None:
        self._bundles = bundles
        self._client = openai_client
        self._model = model

    @activity.defn(name=names.ACTIVITY_GENERATE)
    async def generate_bundle(self, input: GenerateInput) -> GenerateOutput:
        """Generate and store the bundle. Idempotent: storage is content-addressed."""
        try:
            async with keep_alive(f"generating {input.app_id}"):
                generated = await self._generate(input.prompt)
        except GenerationError as err:
            # An LLM may do better on another attempt, up to a point; an outage of the
            # artifact store is retried for longer by the workflow's policy.
            raise ApplicationError(
                f"generation failed: {err}",
                type="GenerationError",
                non_retryable=activity.info().attempt >= GENERATION_LLM_ATTEMPTS,
            ) from None
        except ValueError as err:
            # The prompt breaks the input rules (a workflow started without the API's
            # validation): the deterministic generator would refuse it on every attempt.
            raise ApplicationError(
                f"generation refused the prompt: {err}", type="InvalidPrompt", non_retryable=True
            ) from None
        digest = await self._bundles.put(generated.bundle)
        activity.logger.info("generated %s bundle %s", generated.kind, digest[:12])
        return GenerateOutput(
            bundle_hash=digest,
            app_name=generated.name,
            app_kind=generated.kind,
            file_count=len(generated.bundle.files),
            backend="blueprint" if self._client is None else "openai",
        )

    async def _generate(self, prompt: str) -> GeneratedApp:
        if self._client is None:
            return generate_offline(prompt)
        from activities.generation.openai_backend import generate_with_openai

        return await generate_with_openai(prompt, client=self._client, model=self._model)

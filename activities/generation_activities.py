"""The generation activities: prompt -> bundle in the artifact store (only its hash
returns), and the repair of a generated bundle the QA gate failed."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import openai
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.generation import GeneratedApp, GenerationError, generate_offline
from activities.generation.findings import repair_findings
from activities.heartbeat import keep_alive
from schemas.bundle import AppBundle
from schemas.generation import (
    GenerateInput,
    GenerateOutput,
    RepairBudgetInput,
    RepairInput,
    RepairOutput,
)
from schemas.qa import QAGateReport
from store.artifacts import ArtifactStore
from store.bundle_cache import BundleCache
from store.generation_repairs import GenerationRepairs
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
        async with _generation_errors("generation"), keep_alive(f"generating {input.app_id}"):
            generated = await self._generate(input.prompt)
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


class RepairActivities:
    """Repairs a generated bundle the QA gate failed: the OpenAI-compatible backend is
    given the bundle and the report's findings; the offline generator can only
    generate the same blueprint again (the workflow then stops repairing)."""

    def __init__(
        self,
        bundles: BundleCache,
        artifacts: ArtifactStore,
        repairs: GenerationRepairs,
        openai_client: openai.AsyncOpenAI | None,
        model: str,
        *,
        repairs_allowed: int,
    ) -> None:
        self._bundles = bundles
        self._artifacts = artifacts
        self._repairs = repairs
        self._client = openai_client
        self._model = model
        self._repairs_allowed = repairs_allowed

    @activity.defn(name=names.ACTIVITY_REPAIR_BUDGET)
    async def repair_budget(self, input: RepairBudgetInput) -> int:
        """How many repairs a deployment that did not say gets: MB_GENERATION_REPAIRS."""
        return self._repairs_allowed

    @activity.defn(name=names.ACTIVITY_REPAIR)
    async def repair_bundle(self, input: RepairInput) -> RepairOutput:
        """Repair and store the bundle. Idempotent per attempt: a repair stored by an
        earlier try of this attempt is returned without asking the generator again."""
        stored = await self._repairs.find(
            input.app_id, input.deployment_id, input.attempt, input.bundle_hash
        )
        if stored is None:
            previous = await self._bundles.load(input.bundle_hash)
            report = QAGateReport.model_validate_json(await self._artifacts.get(input.report_hash))
            findings = repair_findings(report)
            async with _generation_errors("repair"), keep_alive(f"repairing {input.app_id}"):
                repaired = await self._repair(input.prompt, previous, findings)
            stored = await self._repairs.save(
                app_id=input.app_id,
                deployment_id=input.deployment_id,
                attempt=input.attempt,
                from_bundle_hash=input.bundle_hash,
                owner_id=input.owner_id,
                report_sha256=input.report_hash,
                bundle_hash=await self._bundles.put(repaired.bundle),
                backend=self._backend,
                file_count=len(repaired.bundle.files),
                findings_chars=len(findings),
            )
            reused = False
        else:
            reused = True
        activity.logger.info(
            "repair %d of %s: bundle %s (%s)",
            input.attempt,
            input.deployment_id,
            stored.bundle_hash[:12],
            "kept from an earlier try" if reused else stored.backend,
        )
        return RepairOutput(
            bundle_hash=stored.bundle_hash,
            file_count=stored.file_count,
            backend=stored.backend,
            findings_chars=stored.findings_chars,
            reused=reused,
        )

    @property
    def _backend(self) -> str:
        return "blueprint" if self._client is None else "openai"

    async def _repair(self, prompt: str, bundle: AppBundle, findings: str) -> GeneratedApp:
        if self._client is None:
            # Blueprints are deterministic: the same prompt gives the same bundle, which
            # the workflow recognises as already judged.
            return generate_offline(prompt)
        from activities.generation.openai_backend import repair_with_openai

        return await repair_with_openai(
            prompt, bundle, findings, client=self._client, model=self._model
        )


@contextlib.asynccontextmanager
async def _generation_errors(what: str) -> AsyncIterator[None]:
    """A generator's failure as the activity's typed error (final after a few attempts)."""
    try:
        yield
    except GenerationError as err:
        # An LLM may do better on another attempt, up to a point; an outage of the
        # artifact store is retried for longer by the workflow's policy.
        raise ApplicationError(
            f"{what} failed: {err}",
            type="GenerationError",
            non_retryable=activity.info().attempt >= GENERATION_LLM_ATTEMPTS,
        ) from None
    except ValueError as err:
        # The prompt breaks the input rules (a workflow started without the API's
        # validation): the deterministic generator would refuse it on every attempt.
        raise ApplicationError(
            f"{what} refused the prompt: {err}", type="InvalidPrompt", non_retryable=True
        ) from None

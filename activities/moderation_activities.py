"""The moderation activity: verdict on a prompt; blocked and flagged prompts are logged."""

from __future__ import annotations

import asyncio

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.moderation import ModerationBackendError, Moderator
from activities.moderation.visible_text import visible_text
from monitoring.security_mail import SecurityMail
from schemas.moderation import ModerateBundleInput, ModerateInput, ModerationResult
from store.bundle_cache import BundleCache
from store.moderation_log import ModerationLog
from temporal import names


class ModerationActivities:
    """Runs the moderator and records every non-allow verdict in the moderation log."""

    def __init__(
        self,
        moderator: Moderator,
        log: ModerationLog,
        notices: SecurityMail | None = None,
        bundles: BundleCache | None = None,
    ) -> None:
        self._moderator = moderator
        self._log = log
        self._notices = notices
        self._bundles = bundles

    async def _moderate(self, text: str, *, learned: bool = True) -> ModerationResult:
        try:
            return await self._moderator.moderate(text, learned=learned)
        except ModerationBackendError as err:
            if err.retryable:
                raise
            # A bad key or model name: retrying cannot help, an operator must fix the config.
            raise ApplicationError(
                str(err), type="ModerationBackendMisconfigured", non_retryable=True
            ) from None

    @activity.defn(name=names.ACTIVITY_MODERATE_BUNDLE)
    async def moderate_bundle_text(self, input: ModerateBundleInput) -> ModerationResult:
        """Moderate what the bundle's app would show (pages, templates, string literals);
        log a block or flag once per deployment, as for prompts."""
        if self._bundles is None:
            raise ApplicationError("no bundle store configured", non_retryable=True)
        bundle = await self._bundles.load(input.bundle_hash)
        # Parsing and decoding a 2 MiB bundle takes a moment: not on the event loop.
        text = await asyncio.to_thread(visible_text, bundle)
        return await self._verdict(
            ModerateInput(
                prompt=text[:4000] or "(no visible text)",
                owner_id=input.owner_id,
                app_id=input.app_id,
                deployment_id=input.deployment_id,
            ),
            # The learned part knows prompts, not pages: it would misread their text.
            await self._moderate(text, learned=False),
        )

    @activity.defn(name=names.ACTIVITY_MODERATE)
    async def moderate_prompt(self, input: ModerateInput) -> ModerationResult:
        """Moderate; log blocked/flagged prompts once per deployment (retries are safe)."""
        return await self._verdict(input, await self._moderate(input.prompt))

    async def _verdict(self, input: ModerateInput, result: ModerationResult) -> ModerationResult:
        if result.verdict != "allow":
            first_time = await self._log.record(
                deployment_id=input.deployment_id,
                owner_id=input.owner_id,
                app_id=input.app_id,
                prompt=input.prompt,
                result=result,
            )
            if first_time and result.verdict == "block" and self._notices is not None:
                await self._notices.deployment_blocked(input.owner_id, input.app_id, result.reason)
        activity.logger.info("moderation verdict %s (%s)", result.verdict, result.backend)
        return result

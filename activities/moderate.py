"""The moderation activity: verdict on a prompt; blocked and flagged prompts are logged."""

from __future__ import annotations

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.moderation import ModerationBackendError, Moderator
from monitoring.security_mail import SecurityMail
from schemas.moderation import ModerateInput, ModerationResult
from store.moderation_log import ModerationLog
from temporal import names


class ModerationActivities:
    """Runs the moderator and records every non-allow verdict in the moderation log."""

    def __init__(
        self, moderator: Moderator, log: ModerationLog, notices: SecurityMail | None = None
    ) -> None:
        self._moderator = moderator
        self._log = log
        self._notices = notices

    @activity.defn(name=names.ACTIVITY_MODERATE)
    async def moderate_prompt(self, input: ModerateInput) -> ModerationResult:
        """Moderate; log blocked/flagged prompts once per deployment (retries are safe)."""
        try:
            result = await self._moderator.moderate(input.prompt)
        except ModerationBackendError as err:
            if err.retryable:
                raise
            # A bad key or model name: retrying cannot help, an operator must fix the config.
            raise ApplicationError(
                str(err), type="ModerationBackendMisconfigured", non_retryable=True
            ) from None
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

"""Recording signals a workflow refused (undecodable or invalid input) as incidents."""

from __future__ import annotations

from temporalio import activity

from schemas.refusals import RefusedSignal
from store.incidents import IncidentLog
from temporal import names


class RefusalActivities:
    """Writes one incident per refused signal (idempotent per refusal)."""

    def __init__(self, incidents: IncidentLog) -> None:
        self._incidents = incidents

    @activity.defn(name=names.ACTIVITY_RECORD_REFUSED_SIGNAL)
    async def record_refused_signal(self, input: RefusedSignal) -> bool:
        """Record the refusal; returns whether this call recorded it (retries add nothing)."""
        recorded = await self._incidents.record(
            kind="refused_signal",
            app_id=input.app_id,
            owner_id=input.owner_id,
            from_version=None,
            to_version=None,
            reason=f"{input.signal} signal to {input.workflow_id} refused: {input.reason}",
            actor="workflow",
            request_id=input.request_id,
        )
        activity.logger.warning(
            "refused a %s signal to %s: %s", input.signal, input.workflow_id, input.reason
        )
        return recorded

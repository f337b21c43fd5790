"""Publishing workflow status to the read model the API reads (local activities)."""

from __future__ import annotations

from temporalio import activity

from schemas.status_views import RecordAppStatusInput, RecordDeploymentStatusInput
from store.status_views import StatusViews
from temporal import names


class StatusViewActivities:
    """Store status snapshots; a snapshot older than the stored one changes nothing."""

    def __init__(self, views: StatusViews) -> None:
        self._views = views

    @activity.defn(name=names.ACTIVITY_RECORD_APP_STATUS)
    async def record_app_status(self, input: RecordAppStatusInput) -> bool:
        """Store the AppWorkflow's status; False if a newer one is stored (or no app)."""
        return await self._views.record_app(input.status, input.seq)

    @activity.defn(name=names.ACTIVITY_RECORD_DEPLOYMENT_STATUS)
    async def record_deployment_status(self, input: RecordDeploymentStatusInput) -> bool:
        """Store a DeploymentWorkflow's status; False if a newer one is stored (or no app)."""
        return await self._views.record_deployment(input.status, input.seq)

"""Activities that place releases: pick a runtime host, switch routes, record releases."""

from __future__ import annotations

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.placement import NoHostFits, choose_host
from monitoring.security_mail import SecurityMail
from schemas.deployment import ReleaseRecord
from schemas.hosts import PlacementRequest
from schemas.runtime import (
    ClearRouteInput,
    RecordReleaseInput,
    RuntimeHost,
    SwitchTrafficInput,
    SwitchTrafficResult,
)
from store.bundle_cache import BundleCache
from store.incidents import IncidentLog
from store.releases import ReleaseRepository
from store.runtime_hosts import RuntimeHosts
from temporal import names


class Placement:
    """Where placement looks: the host registry and when a silent host counts as dead."""

    def __init__(self, hosts: RuntimeHosts, dead_after_s: float) -> None:
        self.hosts = hosts
        self.dead_after_s = dead_after_s


class ReleaseActivities:
    """Placement, route and release bookkeeping in PostgreSQL (runs on the pipeline queue)."""

    def __init__(
        self,
        releases: ReleaseRepository,
        placement: Placement,
        incidents: IncidentLog,
        bundles: BundleCache,
        notices: SecurityMail | None = None,
    ) -> None:
        self._releases = releases
        self._bundles = bundles
        self._placement = placement
        self._notices = notices
        self._incidents = incidents

    @activity.defn(name=names.ACTIVITY_SELECT_HOST)
    async def select_runtime_host(self, input: PlacementRequest | str) -> RuntimeHost:
        """The runtime host for a release (see activities/placement.py); a deployment
        sends the app id alone. No host fits: a non-retryable ``NoRuntimeHost`` error."""
        request = input if isinstance(input, PlacementRequest) else PlacementRequest(app_id=input)
        try:
            host = await self._placement.hosts.place(
                request.app_id,
                lambda hosts: choose_host(hosts, request.prefer),
                self._placement.dead_after_s,
            )
        except NoHostFits as err:
            raise ApplicationError(
                str(err), type=names.ERROR_NO_RUNTIME_HOST, non_retryable=True
            ) from None
        activity.logger.info("%s placed on %s", request.app_id, host)
        return RuntimeHost(host=host, task_queue=names.runtime_task_queue(host))

    @activity.defn(name=names.ACTIVITY_SWITCH_TRAFFIC)
    async def switch_traffic(self, input: SwitchTrafficInput) -> SwitchTrafficResult:
        """Point the gateway at the new instance in one transaction."""
        previous = await self._releases.switch(
            app_id=input.app_id,
            owner_id=input.owner_id,
            version=input.version,
            instance_id=input.instance_id,
            socket_path=input.socket_path,
            host=input.host,
            reason=input.reason,
            request_id=input.request_id,
        )
        activity.logger.info("route of %s -> v%s", input.app_id, input.version)
        if input.rollback is not None and previous != input.version:
            recorded = await self._incidents.record(
                kind="rollback" if input.rollback == "by_hand" else "automatic_rollback",
                app_id=input.app_id,
                owner_id=input.owner_id,
                from_version=previous,
                to_version=input.version,
                reason=input.reason,
                actor=input.actor,
                request_id=input.request_id,
            )
            if recorded and self._notices is not None:  # once, even when retried
                await self._notices.rolled_back(
                    input.owner_id, input.app_id, input.version, input.reason
                )
        return SwitchTrafficResult(previous_version=previous)

    @activity.defn(name=names.ACTIVITY_CLEAR_ROUTE)
    async def clear_route(self, input: ClearRouteInput) -> None:
        """Take the app offline."""
        await self._releases.clear_route(
            app_id=input.app_id, reason=input.reason, request_id=input.request_id
        )

    @activity.defn(name=names.ACTIVITY_RECORD_RELEASE)
    async def record_release(self, input: RecordReleaseInput) -> ReleaseRecord:
        """Record the release (exactly once per deployment, however often retried)."""
        row = await self._releases.record(
            app_id=input.app_id,
            owner_id=input.owner_id,
            version=input.version,
            deployment_id=input.deployment_id,
            bundle_hash=input.bundle_hash,
            host=input.host,
            instance_id=input.instance_id,
            evidence_id=input.evidence_id,
        )
        manifest = (await self._bundles.load(input.bundle_hash)).manifest
        return ReleaseRecord(
            version=row.version,
            deployment_id=row.deployment_id,
            bundle_hash=row.bundle_hash,
            host=row.host,
            instance_id=row.instance_id,
            socket_path=input.socket_path,
            created_at=row.created_at,
            evidence_id=row.evidence_id,
            secrets=sorted(manifest.secrets),
        )

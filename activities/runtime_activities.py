"""Runtime activities of one host: start, health-check and stop app instances.

They run on the host's own task queue, because the instance (its process and
socket) lives on that host.
"""

from __future__ import annotations

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.heartbeat import keep_alive
from activities.qa.evidence import EvidenceInvalid, EvidenceService
from runtime.base import Runtime
from runtime.envs import EnvBuilder, RequirementsError
from runtime.errors import AppStartError
from runtime.health import wait_healthy
from schemas.audit import Actor
from schemas.runtime import (
    HealthCheckInput,
    HealthCheckResult,
    InstanceInfo,
    StartInstanceInput,
    StopInstanceInput,
)
from store.bundle_cache import BundleCache
from store.release_secrets import ReleaseSecrets
from store.secrets import SecretNotFound, SecretStore
from temporal import names


class MissingSecrets(Exception):
    """The bundle declares secrets that are not set for its app."""


async def secrets_for_start(
    secrets: SecretStore,
    pins: ReleaseSecrets,
    actor: Actor,
    app_id: str,
    version: int,
    generation: int,
    declared: list[str],
) -> dict[str, str]:
    """The declared secrets' values for one start of a release.

    The first start of a release gets the current versions and pins them. Any later
    start of that release (a rollback to it, a restart of it) gets the pinned
    versions: the release comes back as it was deployed. A refreshed instance
    (``generation`` > 0, started because a secret changed) gets the current ones.
    """
    pinned = None if generation > 0 else await pins.pinned(app_id, version)
    values, used = await secrets.inject_versions(actor, app_id, declared, pinned)
    if pinned is None and generation == 0:
        await pins.record(app_id, version, used)
    return values


class RuntimeActivities:
    """Adapters from the workflow's requests to this host's runtime."""

    def __init__(
        self,
        runtime: Runtime,
        bundles: BundleCache,
        envs: EnvBuilder,
        evidence: EvidenceService,
        secrets: SecretStore,
        pins: ReleaseSecrets,
        *,
        drain_s: float,
    ) -> None:
        self._secrets = secrets
        self._pins = pins
        self._runtime = runtime
        self._bundles = bundles
        self._envs = envs
        self._evidence = evidence
        self._drain_s = drain_s

    async def start(
        self, app_id: str, version: int, bundle_hash: str, generation: int = 0
    ) -> InstanceInfo:
        """Verify the QA evidence, check out the bundle, start (or find) the instance.

        Nothing starts without valid signed evidence that this bundle passed the
        whole QA gate for this app: not a new release, not a rollback target.
        """
        await self._evidence.require(app_id, bundle_hash)
        bundle_dir, bundle = await self._bundles.checkout(bundle_hash)
        env = await self._envs.ensure(bundle.file("requirements.txt") or "")
        declared = list(bundle.manifest.secrets)
        values: dict[str, str] = {}
        if declared:
            # Decrypted here, handed to the runtime, never returned or logged.
            runtime = Actor(user_id=f"runtime:{self._runtime.host}")
            try:
                values = await secrets_for_start(
                    self._secrets, self._pins, runtime, app_id, version, generation, declared
                )
            except SecretNotFound:
                raise MissingSecrets(
                    f"{app_id} v{version} declares secrets {', '.join(declared)} but not all"
                    f" are set: set them (mb secrets set {app_id} NAME) and deploy again"
                    " (a rollback never brings back a deleted secret)"
                ) from None
        return await self._runtime.start(
            app_id=app_id,
            version=version,
            bundle_dir=bundle_dir,
            env=env,
            manifest=bundle.manifest,
            secrets=values,
            generation=generation,
        )

    @activity.defn(name=names.ACTIVITY_START_INSTANCE)
    async def start_instance(self, input: StartInstanceInput) -> InstanceInfo:
        """Start the release's instance; an app that cannot start is a verdict, not a retry."""
        try:
            async with keep_alive(f"starting {input.app_id} v{input.version}"):
                return await self.start(
                    input.app_id, input.version, input.bundle_hash, input.generation
                )
        except EvidenceInvalid as err:
            raise ApplicationError(
                str(err), type=names.ERROR_EVIDENCE_INVALID, non_retryable=True
            ) from None
        except (AppStartError, RequirementsError, MissingSecrets) as err:
            raise ApplicationError(
                str(err), type=names.ERROR_APP_START_FAILED, non_retryable=True
            ) from None

    @activity.defn(name=names.ACTIVITY_HEALTH_CHECK)
    async def health_check(self, input: HealthCheckInput) -> HealthCheckResult:
        """Probe through the instance's socket until 2xx or attempts run out."""
        return await wait_healthy(
            input.socket_path, input.path, attempts=input.attempts, interval_s=input.interval_s
        )

    @activity.defn(name=names.ACTIVITY_STOP_INSTANCE)
    async def stop_instance(self, input: StopInstanceInput) -> None:
        """Drain and stop (idempotent: stopping a stopped instance is fine)."""
        await self._runtime.stop(
            input.instance_id, drain_s=self._drain_s if input.drain_s is None else input.drain_s
        )

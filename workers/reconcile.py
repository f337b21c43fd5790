"""Bringing this host's runtime in line with the recorded routes: at worker start and
then periodically.

Three repairs, each recorded as an incident (what, when, why, who):

- a routed (live) instance that is not running, because it crashed, was OOM-killed
  or the host rebooted, is started again (and its route follows it when its socket
  moved: a data directory rebuilt elsewhere after a disaster);
- a running instance that no route points at and that is older than a grace
  period is stopped: an orphan left by a worker that died between starting a
  release and switching to it, or between switching and stopping the old one.
  The grace period (longer than any deployment's start-to-switch) keeps a
  deployment in flight from losing its new instance;
- a sandbox or container that no running record accounts for is killed: a
  stray left by a worker that died between spawning it and recording it,
  whose start was never retried.

Fencing: on a host marked ``lost`` (its heartbeat stopped and its apps were moved),
a running instance whose app is routed to another host is stopped at once, without
the grace period: its app lives elsewhere now. The worker's first pass runs before
it registers, heartbeats or polls, so a returning host serves no stale instance. A
lost host takes no new placement, so no deployment in flight can lose its instance.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Awaitable, Callable

from runtime.base import Runtime, app_and_version_of, generation_of
from schemas.runtime import InstanceInfo
from store.apps import AppRepository
from store.incidents import IncidentLog
from store.releases import ReleaseRepository, Route
from store.runtime_hosts import RuntimeHosts

log = logging.getLogger(__name__)
ACTOR = "reconciler"

Restart = Callable[[Route, str], Awaitable[InstanceInfo]]
"""Start the routed release again: (route, bundle hash) -> the running instance."""


class Reconciler:
    """Compare one host's instances with its routes; restart the live, stop orphans,
    kill unrecorded strays."""

    def __init__(
        self,
        runtime: Runtime,
        releases: ReleaseRepository,
        apps: AppRepository,
        incidents: IncidentLog,
        restart: Restart,
        *,
        orphan_grace_s: float = 600.0,
        clock: Callable[[], float] = time.time,
        hosts: RuntimeHosts | None = None,
    ) -> None:
        self._runtime = runtime
        self._releases = releases
        self._apps = apps
        self._incidents = incidents
        self._restart = restart
        self._grace_s = orphan_grace_s
        self._clock = clock
        self._hosts = hosts

    async def run_once(self) -> list[str]:
        """One pass; returns what it did (nothing when all is in order)."""
        host = self._runtime.host
        routes = await self._releases.routes_on(host)
        done = [line for route in routes if (line := await self._keep_live(route))]
        routed = {route.instance_id for route in routes}
        fencing = await self._lost()
        for info in await self._runtime.instances():
            if info.instance_id in routed or info.host != host:
                continue
            if await self._runtime.state(info.instance_id) != "running":
                continue
            elsewhere = await self._routed_elsewhere(info.app_id) if fencing else None
            if elsewhere is not None:
                what = f"fenced ({info.app_id} is live on {elsewhere})"
            elif self._clock() - (info.started_at or 0.0) < self._grace_s:
                continue  # maybe a deployment about to switch to it
            else:
                what = "orphan stopped"
            await self._runtime.stop(info.instance_id, drain_s=0.0)
            await self._record(
                info.instance_id, info.app_id, info.version, None, f"{info.instance_id}: {what}"
            )
            done.append(f"{info.instance_id}: {what}")
        for instance_id in await self._runtime.sweep_strays():
            app_id, version = app_and_version_of(instance_id) or ("unknown", None)
            await self._record(
                instance_id, app_id, version, None, f"unrecorded {instance_id} killed"
            )
            done.append(f"{instance_id}: unrecorded stray killed")
        return done

    async def _lost(self) -> bool:
        """Whether this host is marked lost (its stale instances are fenced)."""
        if self._hosts is None:
            return False
        view = await self._hosts.host(self._runtime.host, dead_after_s=1.0)
        return view is not None and view.state == "lost"

    async def _routed_elsewhere(self, app_id: str) -> str | None:
        """The other host ``app_id`` is routed to, if it is."""
        route = await self._releases.route(app_id)
        return None if route is None or route.host == self._runtime.host else route.host

    async def _keep_live(self, route: Route) -> str | None:
        if await self._runtime.state(route.instance_id) == "running":
            return None
        release = next(
            (r for r in await self._releases.for_app(route.app_id) if r.version == route.version),
            None,
        )
        if release is None:
            return f"{route.instance_id}: routed but no release recorded; left alone"
        try:
            info = await self._restart(route, release.bundle_hash)
        except Exception as err:  # one broken app must not keep the others (or the worker) down
            log.exception("could not restart %s", route.instance_id)
            return f"{route.instance_id}: restart failed ({type(err).__name__})"
        await self._record(
            route.instance_id,
            route.app_id,
            None,
            route.version,
            f"live instance {route.instance_id} was not running; started again",
        )
        if info.socket_path != route.socket_path:
            return await self._follow_socket(route, info.socket_path)
        return f"{route.instance_id}: restarted"

    async def _follow_socket(self, route: Route, socket_path: str) -> str:
        """Point the route at the restarted instance's new socket (same release)."""
        owner = await self._apps.owner(route.app_id)
        if owner is None:
            return f"{route.instance_id}: restarted, but its app is gone; route left alone"
        digest = hashlib.sha256(socket_path.encode()).hexdigest()[:16]
        await self._releases.switch(
            app_id=route.app_id,
            owner_id=owner,
            version=route.version,
            instance_id=route.instance_id,
            socket_path=socket_path,
            host=route.host,
            reason="reconciled: the live instance's socket moved",
            request_id=f"reconcile-{route.instance_id}-{digest}",
        )
        return f"{route.instance_id}: restarted; its route follows the new socket"

    async def _record(
        self,
        instance_id: str,
        app_id: str,
        from_version: int | None,
        to_version: int | None,
        reason: str,
    ) -> None:
        owner = await self._apps.owner(app_id) or "unknown"
        await self._incidents.record(
            kind="reconciliation",
            app_id=app_id,
            owner_id=owner,
            from_version=from_version,
            to_version=to_version,
            reason=reason,
            actor=ACTOR,
            request_id=f"reconcile-{instance_id}-{int(self._clock() * 1000)}",
        )

    async def run_forever(self, every_s: float, stop: asyncio.Event) -> None:
        """A pass every ``every_s`` seconds until ``stop`` is set; a failed pass is logged."""
        while True:
            try:
                await asyncio.wait_for(stop.wait(), timeout=every_s)
                return
            except TimeoutError:
                pass
            try:
                for line in await self.run_once():
                    log.info("reconciliation: %s", line)
            except Exception:
                log.exception("reconciliation pass failed")


def restart_with(start: Callable[[str, int, str, int], Awaitable[InstanceInfo]]) -> Restart:
    """A Restart from RuntimeActivities.start (evidence checked, secrets injected)."""

    async def restart(route: Route, bundle_hash: str) -> InstanceInfo:
        return await start(
            route.app_id, route.version, bundle_hash, generation_of(route.instance_id)
        )

    return restart

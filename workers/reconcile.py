"""Bringing this host's runtime in line with the recorded routes (at worker start)."""

from __future__ import annotations

import logging

from runtime.base import generation_of
from workers.wiring import Activities

log = logging.getLogger(__name__)


async def reconcile_host(activities: Activities, host: str) -> list[str]:
    """Start every routed instance on ``host`` that is not running; returns what it did."""
    done: list[str] = []
    releases = activities.release_repo
    for route in await releases.routes_on(host):
        if await activities.app_runtime.state(route.instance_id) == "running":
            continue
        release = next(
            (r for r in await releases.for_app(route.app_id) if r.version == route.version), None
        )
        if release is None:
            done.append(f"{route.instance_id}: routed but no release recorded; left alone")
            continue
        try:
            info = await activities.runtime.start(
                route.app_id,
                route.version,
                release.bundle_hash,
                generation_of(route.instance_id),
            )
        except Exception as err:  # one broken app must not keep the others (or the worker) down
            log.exception("could not restart %s", route.instance_id)
            done.append(f"{route.instance_id}: restart failed ({type(err).__name__})")
            continue
        if info.socket_path != route.socket_path:
            done.append(f"{route.instance_id}: socket moved; route still points at the old path")
        done.append(f"{route.instance_id}: restarted")
    return done

"""Lost runtime hosts: noticing a host whose heartbeat stopped, and moving its apps.

Every worker process runs a :class:`HostLossDetector` every ``MB_HOST_LOSS_CHECK_S``;
a PostgreSQL advisory lock lets one of them act at a time
(:meth:`store.runtime_hosts.RuntimeHosts.lose_silent`). A loop here rather than a
Temporal schedule or a looping workflow: the check is one SQL statement every few
seconds, which a schedule would turn into a workflow run per pass and a workflow
into a timer and an activity in its history per pass; the loop runs as long as any
worker does and judges silence by the database's clock, the one heartbeats write.
A loop judges only once the database has answered it for ``MB_HOST_DEAD_AFTER_S``
without a break, at start and after an outage: heartbeats go through the same
database, so an outage silences every host at once, and a PostgreSQL down longer
than that would otherwise have every host with apps declared lost when it returns.

A host silent for ``MB_HOST_DEAD_AFTER_S`` with apps routed to it is marked ``lost``;
each of those apps gets a ``refresh`` naming the lost host, so its AppWorkflow starts
the same release on another host (placement never picks a lost host; evidence
verified and secrets injected as every start is), switches the route, and leaves the
old instance to fencing. One ``host_lost`` incident per app and loss. Idempotent:
the signal and the incident carry one request id per (host, loss, app), so another
worker's pass, or a pass after a failure, moves and records nothing twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
from collections.abc import Awaitable, Callable

from schemas.deployment import RefreshRequest
from store.apps import AppRepository
from store.incidents import IncidentLog
from store.runtime_hosts import LostRoute, RuntimeHosts

log = logging.getLogger(__name__)
ACTOR = "host-loss-detector"

Move = Callable[[str, RefreshRequest], Awaitable[bool]]
"""Ask an app's AppWorkflow to move (False: that workflow is not running)."""


class HostLossDetector:
    """Marks silent hosts lost and asks each app routed to one to move."""

    def __init__(
        self,
        hosts: RuntimeHosts,
        apps: AppRepository,
        incidents: IncidentLog,
        move: Move,
        *,
        dead_after_s: float,
    ) -> None:
        self._hosts = hosts
        self._apps = apps
        self._incidents = incidents
        self._move = move
        self._dead_after_s = dead_after_s
        self._asked: set[str] = set()

    async def run_once(self) -> list[str] | None:
        """One pass: what it did, or None when another detector holds the lock."""
        done: list[str] = []

        async def act(routes: list[LostRoute]) -> None:
            for route in routes:
                line = await self._ask(route)
                if line:
                    done.append(line)

        return done if await self._hosts.lose_silent(self._dead_after_s, act) else None

    async def _ask(self, route: LostRoute) -> str | None:
        """Signal the app once per loss (a signal is a history event: not every pass),
        then record the incident (a failed signal is tried again on the next pass)."""
        request_id = loss_request_id(route)
        if request_id in self._asked:
            return None
        why = f"runtime host {route.host} lost (no heartbeat for {route.silent_s:.0f} s)"
        moving = await self._move(
            route.app_id,
            RefreshRequest(
                request_id=request_id, requested_by=ACTOR, reason=why, lost_host=route.host
            ),
        )
        outcome = (
            f"v{route.version} ({route.instance_id}) is started again on another host"
            if moving
            else f"v{route.version} ({route.instance_id}) cannot move: its AppWorkflow is not"
            " running"
        )
        await self._incidents.record(
            kind="host_lost",
            app_id=route.app_id,
            owner_id=await self._apps.owner(route.app_id) or "unknown",
            from_version=route.version,
            to_version=route.version,
            reason=f"{why}: {outcome}",
            actor=ACTOR,
            request_id=request_id,
        )
        self._asked.add(request_id)
        return f"{route.app_id}: {why}; {outcome}"

    async def run_forever(self, every_s: float, stop: asyncio.Event) -> None:
        """A pass every ``every_s`` seconds until ``stop``, once the database has answered
        for ``dead_after_s`` without a break (until then a pass only asks it whether it
        answers); a failed pass is logged, and the wait starts again."""
        answering_since: float | None = None
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=every_s)
                return
            try:
                now = time.monotonic()
                if answering_since is None or now - answering_since < self._dead_after_s:
                    await self._hosts.hosts(self._dead_after_s)  # does the database answer?
                    answering_since = now if answering_since is None else answering_since
                    continue
                for line in await self.run_once() or []:
                    log.warning("host loss: %s", line)
            except Exception:
                answering_since = None
                log.exception("host loss detection pass failed")


def loss_request_id(route: LostRoute) -> str:
    """The one request id of an app's move off one loss of one host."""
    key = f"{route.host}|{route.lost_at.isoformat()}|{route.app_id}"
    return "host-lost-" + hashlib.sha256(key.encode()).hexdigest()[:32]

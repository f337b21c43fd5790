"""Draining a runtime host (``mb hosts drain``): no new placements there, its live apps
moved away with no failed request, then the host is drained.

Each app routed to the host gets a ``refresh`` from its AppWorkflow: placement
chooses another host (a draining host is never chosen), the release starts there,
passes its health check, traffic switches, and only then the old instance stops.
The host becomes ``drained`` once no app is routed to it, on whichever comes first:
its own worker's heartbeat or :func:`settle` here.
"""

from __future__ import annotations

import asyncio
import uuid

from pydantic import BaseModel
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from pipeline.operations import PipelineRequestError
from schemas.deployment import RefreshRequest
from schemas.hosts import HostState
from store.releases import ReleaseRepository
from store.runtime_hosts import RuntimeHosts
from temporal import names


class DrainReport(BaseModel):
    """What a drain asked for: the apps asked to move, the ones that cannot be."""

    host: str
    state: HostState
    moving: list[str]
    stuck: list[str]


async def drain_host(
    client: Client, hosts: RuntimeHosts, releases: ReleaseRepository, name: str
) -> DrainReport:
    """Mark ``name`` draining and ask every app routed to it to move (asking again for
    the apps still there when run again)."""
    if not await hosts.set_state(name, "draining"):
        raise PipelineRequestError(f"runtime host {name!r} is not registered", 404)
    moving, stuck = [], []
    for route in await releases.routes_on(name):
        request = RefreshRequest(
            request_id=f"drain-{uuid.uuid4().hex}",
            requested_by="host-drain",
            reason=f"runtime host {name} is draining",
        )
        if await ask_to_move(client, route.app_id, request):
            moving.append(route.app_id)
        else:
            stuck.append(f"{route.app_id}: its AppWorkflow is not running")
    return DrainReport(host=name, state=await settle(hosts, name), moving=moving, stuck=stuck)


async def ask_to_move(client: Client, app_id: str, request: RefreshRequest) -> bool:
    """Signal the app's AppWorkflow to roll its live release onto a newly placed instance;
    False when that workflow is not running."""
    handle = client.get_workflow_handle(names.app_workflow_id(app_id))
    try:
        await handle.signal(names.SIGNAL_REFRESH, request)
    except RPCError as err:
        if err.status != RPCStatusCode.NOT_FOUND:
            raise
        return False
    return True


async def undrain_host(hosts: RuntimeHosts, name: str) -> None:
    """Let the host take new apps again."""
    if not await hosts.set_state(name, "active"):
        raise PipelineRequestError(f"runtime host {name!r} is not registered", 404)


async def settle(hosts: RuntimeHosts, name: str) -> HostState:
    """The host's state once a draining host with nothing left is marked drained."""
    state = await hosts.settle(name)
    if state is None:
        raise PipelineRequestError(f"runtime host {name!r} is not registered", 404)
    return state


async def wait_drained(hosts: RuntimeHosts, name: str, *, within_s: float) -> HostState:
    """Poll until the host is drained (or no longer draining, or time is up)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within_s
    while True:
        state = await settle(hosts, name)
        if state != "draining" or loop.time() >= deadline:
            return state
        await asyncio.sleep(0.5)

"""For operators: the runtime hosts, their state, load, capacity and heartbeat."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from api.deps import ServicesDep, current_operator
from api.routes.deployments import ERRORS
from schemas.hosts import RuntimeHostView
from store.runtime_hosts import RuntimeHosts

router = APIRouter(prefix="/v1/hosts", tags=["review"])


@router.get(
    "",
    response_model=list[RuntimeHostView],
    responses=ERRORS,
    dependencies=[Depends(current_operator)],
)
async def list_hosts(services: ServicesDep) -> list[RuntimeHostView]:
    """Every registered runtime host, by name (``live``: its heartbeat is fresh)."""
    return await RuntimeHosts(services.db).hosts(services.settings.host_dead_after_s)

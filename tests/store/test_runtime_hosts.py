"""Runtime hosts on a real PostgreSQL: registration and heartbeats, placement (live and
active hosts only, capacity first, then least loaded, a preferred host kept), the
refusal when no host fits, and the drain states."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.placement import NoHostFits, choose_host
from activities.releases import Placement, ReleaseActivities
from schemas.hosts import HostCapacity, PlacementRequest
from store.artifacts import ArtifactStore
from store.bundle_cache import BundleCache
from store.db import Database
from store.incidents import IncidentLog
from store.releases import ReleaseRepository
from store.runtime_hosts import RuntimeHosts
from temporal import names
from workers.host_heartbeat import HostHeartbeat

DEAD_AFTER_S = 15.0


def _capacity(max_apps: int, memory_mib: int = 64 * 1024, per_app: int = 512) -> HostCapacity:
    return HostCapacity(max_apps=max_apps, memory_mib=memory_mib, app_memory_mib=per_app)


async def _route(db: Database, app_id: str, host: str, instance_id: str | None = None) -> None:
    """An app live on ``host`` (as the switch activity records it)."""
    instance_id = instance_id or f"{app_id}-v1"
    await ReleaseRepository(db).switch(
        app_id=app_id,
        owner_id="owner",
        version=1,
        instance_id=instance_id,
        socket_path=f"/run/{instance_id}.sock",
        host=host,
        reason="deploy",
        request_id=f"switch-{instance_id}",
    )


async def _place(hosts: RuntimeHosts, app_id: str, *prefer: str) -> str:
    return await hosts.place(app_id, lambda loads: choose_host(loads, prefer), DEAD_AFTER_S)


async def test_a_worker_registers_its_host_and_its_heartbeat_keeps_it_live(db: Database) -> None:
    hosts = RuntimeHosts(db)
    heartbeat = HostHeartbeat(hosts, "alpha", _capacity(8, 4096), every_s=0.05)
    await heartbeat.register()
    (alpha,) = await hosts.hosts(DEAD_AFTER_S)
    assert (alpha.name, alpha.state, alpha.apps, alpha.max_apps, alpha.memory_mib) == (
        "alpha",
        "active",
        0,
        8,
        4096,
    )
    assert alpha.live and alpha.heartbeat_age_s < 5
    stop = asyncio.Event()
    beating = asyncio.create_task(heartbeat.run_forever(stop))
    await asyncio.sleep(0.5)
    stop.set()
    await beating
    later = await hosts.host("alpha", DEAD_AFTER_S)
    assert later is not None and later.heartbeat_at > alpha.heartbeat_at
    assert later.registered_at == alpha.registered_at


async def test_a_host_whose_heartbeat_stopped_gets_no_new_app(db: Database) -> None:
    hosts = RuntimeHosts(db)
    await hosts.register("silent", _capacity(100))
    await hosts.register("beating", _capacity(2))
    await _route(db, "busy", "beating")  # the beating host is busier, still it is chosen
    await asyncio.sleep(1.2)
    await hosts.heartbeat("beating")
    chosen = await hosts.place("new-app", lambda loads: choose_host(loads), dead_after_s=1.0)
    assert chosen == "beating"
    views = {h.name: h for h in await hosts.hosts(dead_after_s=1.0)}
    assert not views["silent"].live and views["beating"].live
    with pytest.raises(NoHostFits, match=r"silent: no heartbeat for \d+ s"):
        await hosts.place("third", lambda loads: choose_host(loads), dead_after_s=1.0)


async def test_capacity_first_then_least_loaded(db: Database) -> None:
    hosts = RuntimeHosts(db)
    await hosts.register("full", _capacity(2))  # 2/2 apps
    await hosts.register("tight", _capacity(10, memory_mib=1024))  # memory for 2 apps
    await hosts.register("big", _capacity(10))  # 3/10
    await hosts.register("small", _capacity(4))  # 1/4: the least loaded share
    for app, host in [("ff1", "full"), ("ff2", "full"), ("tt1", "tight"), ("tt2", "tight")]:
        await _route(db, app, host)
    for app in ("bb1", "bb2", "bb3"):
        await _route(db, app, "big")
    await _route(db, "ss1", "small")
    assert await _place(hosts, "new-1") == "small"  # 1/4 < 3/10
    # The placement counts: small is 2/4 now, big 3/10 is the lighter share.
    assert await _place(hosts, "new-2") == "big"
    assert await _place(hosts, "new-3") == "big"  # 4/10 < 2/4
    # Preferred, but no room there; big 5/10 and small 2/4 tie: the fewer apps wins.
    assert await _place(hosts, "new-4", "full", "tight") == "small"
    # An app already on a host is not counted against it when placed again.
    assert await _place(hosts, "ff1", "full") == "full"


async def test_a_rollback_prefers_the_host_that_ran_the_release_if_it_qualifies(
    db: Database,
) -> None:
    hosts = RuntimeHosts(db)
    await hosts.register("old", _capacity(10))
    await hosts.register("empty", _capacity(10))
    for app in ("oo1", "oo2", "oo3"):
        await _route(db, app, "old")
    assert await _place(hosts, "shop") == "empty"
    assert await _place(hosts, "shop", "old") == "old"  # busier, but it has the release
    await hosts.set_state("old", "draining")
    assert await _place(hosts, "shop", "old") == "empty"  # not while it drains
    assert await _place(hosts, "shop", "gone") == "empty"  # an unknown host is ignored


async def test_no_host_with_capacity_is_a_non_retryable_failure_with_the_reason(
    db: Database, tmp_path: Path
) -> None:
    hosts = RuntimeHosts(db)
    activities = ReleaseActivities(
        ReleaseRepository(db),
        Placement(hosts, DEAD_AFTER_S),
        IncidentLog(db),
        BundleCache(ArtifactStore(db), tmp_path),
    )
    env = ActivityEnvironment()
    with pytest.raises(ApplicationError, match="none is registered") as info:
        await env.run(activities.select_runtime_host, "lonely")
    assert info.value.type == names.ERROR_NO_RUNTIME_HOST and info.value.non_retryable
    await hosts.register("one", _capacity(1))
    await hosts.register("paused", _capacity(5))
    await hosts.set_state("paused", "draining")
    await _route(db, "resident", "one")
    with pytest.raises(ApplicationError) as info:
        await env.run(activities.select_runtime_host, PlacementRequest(app_id="lonely"))
    assert info.value.message == "no runtime host has capacity: one: 1/1 apps; paused: draining"
    placed = await env.run(
        activities.select_runtime_host, PlacementRequest(app_id="resident", prefer=["one"])
    )
    assert (placed.host, placed.task_queue) == ("one", "mb-runtime-one")


async def test_drain_states(db: Database) -> None:
    hosts = RuntimeHosts(db)
    assert not await hosts.set_state("nowhere", "draining")
    assert await hosts.settle("nowhere") is None
    await hosts.register("a", _capacity(4))
    await hosts.register("b", _capacity(4))
    await _route(db, "app", "a")
    assert await hosts.set_state("a", "draining")
    assert await _place(hosts, "other") == "b"  # a drains: no new app there
    assert await hosts.heartbeat("a") == "draining"  # its app is still routed there
    await _route(db, "app", "b", "app-v1-r1")  # moved
    assert await hosts.heartbeat("a") == "drained"  # nothing left: its heartbeat settles it
    await hosts.register("a", _capacity(4))  # its worker restarts: it stays drained
    restarted = await hosts.host("a", DEAD_AFTER_S)
    assert restarted is not None and restarted.state == "drained"
    assert await hosts.set_state("a", "draining")  # draining again keeps it drained
    assert (await hosts.settle("a")) == "drained"
    assert await _place(hosts, "probe", "a") == "b"
    assert await hosts.set_state("a", "active")
    assert await hosts.settle("a") == "active"
    assert await _place(hosts, "probe", "a") == "a"

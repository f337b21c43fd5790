"""Lost-host detection on a real PostgreSQL: a silent host with routes is marked lost and
each of its apps asked once to move (with an incident each); a fresh host, or a silent
one with nothing routed to it, is left alone; one detector acts at a time; a lost host
stays lost through its heartbeats until an operator undrains it.

Asking an app to move is a Temporal signal; here it is a recording function (the
integration test ``tests/integration/test_host_loss.py`` sends the real signal)."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import time
from pathlib import Path

from activities.placement import choose_host
from schemas.deployment import RefreshRequest
from schemas.hosts import HostCapacity
from store.apps import AppRepository
from store.db import Database
from store.embedded import EmbeddedPostgres
from store.incidents import IncidentLog
from store.releases import ReleaseRepository
from store.runtime_hosts import RuntimeHosts
from workers.host_heartbeat import HostHeartbeat
from workers.host_loss import HostLossDetector

DEAD_AFTER_S = 15.0
CAPACITY = HostCapacity(max_apps=8, memory_mib=8192, app_memory_mib=512)


class Moves:
    """What a detector asked of the AppWorkflows."""

    def __init__(self, running: bool = True) -> None:
        self.asked: list[tuple[str, RefreshRequest]] = []
        self.running = running

    async def __call__(self, app_id: str, request: RefreshRequest) -> bool:
        self.asked.append((app_id, request))
        return self.running


def _detector(db: Database, moves: Moves) -> HostLossDetector:
    return HostLossDetector(
        RuntimeHosts(db), AppRepository(db), IncidentLog(db), moves, dead_after_s=DEAD_AFTER_S
    )


async def _host(db: Database, name: str, *apps: str, silent_s: float = 0.0) -> None:
    """A registered host, silent for ``silent_s``, with ``apps`` live on it."""
    await RuntimeHosts(db).register(name, CAPACITY)
    for app_id in apps:
        await AppRepository(db).ensure(app_id, f"owner-of-{app_id}")
        await ReleaseRepository(db).switch(
            app_id=app_id,
            owner_id=f"owner-of-{app_id}",
            version=3,
            instance_id=f"{app_id}-v3",
            socket_path=f"/run/{app_id}.sock",
            host=name,
            reason="deploy",
            request_id=f"switch-{app_id}-v3",
        )
    async with db.connection() as conn:
        await conn.execute(
            "UPDATE runtime_hosts SET heartbeat_at = now() - make_interval(secs => %s)"
            " WHERE name = %s",
            (silent_s, name),
        )


async def _states(db: Database) -> dict[str, str]:
    return {h.name: h.state for h in await RuntimeHosts(db).hosts(DEAD_AFTER_S)}


async def test_a_silent_host_with_routes_is_lost_and_each_app_asked_once(db: Database) -> None:
    await _host(db, "gone", "app-1", "app-2", silent_s=DEAD_AFTER_S + 5)
    await _host(db, "fine", "app-3")
    moves = Moves()
    detector = _detector(db, moves)

    done = await detector.run_once()
    assert done is not None and len(done) == 2
    assert await _states(db) == {"gone": "lost", "fine": "active"}
    assert [app_id for app_id, _ in moves.asked] == ["app-1", "app-2"]
    for _, request in moves.asked:
        assert request.lost_host == "gone" and request.requested_by == "host-loss-detector"
        assert "runtime host gone lost (no heartbeat for 2" in request.reason
    incidents = await IncidentLog(db).search()
    assert sorted((i.app_id, i.kind, i.owner_id, i.to_version) for i in incidents) == [
        ("app-1", "host_lost", "owner-of-app-1", 3),
        ("app-2", "host_lost", "owner-of-app-2", 3),
    ]
    assert all("is started again on another host" in i.reason for i in incidents)

    assert await detector.run_once() == []  # asked once per loss: a signal is history
    assert len(moves.asked) == 2
    # Another worker's detector asks with the same request ids: the workflow drops them.
    other = Moves()
    await _detector(db, other).run_once()
    assert [r.request_id for _, r in other.asked] == [r.request_id for _, r in moves.asked]
    assert len(await IncidentLog(db).search()) == 2  # recorded once


async def test_a_fresh_host_or_a_silent_one_with_nothing_on_it_is_left_alone(
    db: Database,
) -> None:
    await _host(db, "fresh", "app-1", silent_s=DEAD_AFTER_S - 5)
    await _host(db, "empty", silent_s=DEAD_AFTER_S * 10)
    moves = Moves()
    assert await _detector(db, moves).run_once() == []
    assert await _states(db) == {"fresh": "active", "empty": "active"}
    assert moves.asked == [] and await IncidentLog(db).search() == []


async def test_an_app_whose_workflow_is_not_running_is_recorded_as_stuck(db: Database) -> None:
    await _host(db, "gone", "orphaned", silent_s=DEAD_AFTER_S + 1)
    await _detector(db, Moves(running=False)).run_once()
    (incident,) = await IncidentLog(db).search()
    assert "cannot move: its AppWorkflow is not running" in incident.reason


async def test_one_detector_acts_at_a_time(db: Database) -> None:
    await _host(db, "gone", "app-1", silent_s=DEAD_AFTER_S + 1)
    entered, release = asyncio.Event(), asyncio.Event()

    class SlowMoves(Moves):
        async def __call__(self, app_id: str, request: RefreshRequest) -> bool:
            entered.set()
            await release.wait()
            return await super().__call__(app_id, request)

    slow, second = SlowMoves(), Moves()
    first = asyncio.create_task(_detector(db, slow).run_once())
    await asyncio.wait_for(entered.wait(), timeout=10)
    # The lock is held: no waiting (a detector without it would block on the host's row).
    assert await asyncio.wait_for(_detector(db, second).run_once(), timeout=10) is None
    assert second.asked == []
    release.set()
    assert await first is not None and len(slow.asked) == 1


async def test_a_lost_host_stays_lost_until_undrained(db: Database) -> None:
    await _host(db, "gone", "app-1", silent_s=DEAD_AFTER_S + 1)
    await _host(db, "other")
    await _detector(db, Moves()).run_once()
    hosts = RuntimeHosts(db)
    await hosts.register("gone", CAPACITY)  # its worker comes back
    assert await hosts.heartbeat("gone") == "lost"
    placed = await hosts.place("new-app", lambda loads: choose_host(loads, ["gone"]), DEAD_AFTER_S)
    assert placed == "other"  # a lost host gets no new app, even when preferred
    assert await hosts.set_state("gone", "active")
    assert (await _states(db))["gone"] == "active"


async def _until(db: Database, host: str, state: str, within: float) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if (await _states(db)).get(host) == state:
            return True
        await asyncio.sleep(0.05)
    return False


async def test_hosts_are_judged_only_once_the_database_has_answered_for_a_while() -> None:
    """At start, a silent host is judged only after ``dead_after_s`` of answers; a
    PostgreSQL outage longer than ``dead_after_s`` (its own server here, stopped and
    started) silences the heartbeats too, and the live host is not declared lost
    when the database returns: it beats again within the wait."""
    dead_after_s = 1.0
    root = Path(tempfile.mkdtemp(prefix="mb-test-loss-"))
    root.chmod(0o755)
    server = EmbeddedPostgres(root / "data")
    db = Database(await server.start(), max_size=4)
    stop = asyncio.Event()
    tasks: list[asyncio.Task[None]] = []
    try:
        await db.open()
        await db.migrate()
        await _host(db, "gone", "app-1", silent_s=60)
        await _host(db, "alive", "app-2")
        heartbeat = HostHeartbeat(RuntimeHosts(db), "alive", CAPACITY, every_s=0.5)
        detector = HostLossDetector(
            RuntimeHosts(db), AppRepository(db), IncidentLog(db), Moves(), dead_after_s=dead_after_s
        )
        tasks = [
            asyncio.create_task(heartbeat.run_forever(stop)),
            asyncio.create_task(detector.run_forever(0.05, stop)),
        ]
        await asyncio.sleep(dead_after_s / 2)
        assert await _states(db) == {"gone": "active", "alive": "active"}  # not judged yet
        assert await _until(db, "gone", "lost", within=10)

        await server.stop()
        await asyncio.sleep(2.5 * dead_after_s)  # every heartbeat fails meanwhile
        await server.start()
        assert not await _until(db, "alive", "lost", within=3 * dead_after_s)
        assert (await _states(db))["alive"] == "active"
    finally:
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        await db.close()
        await server.stop()
        shutil.rmtree(root, ignore_errors=True)

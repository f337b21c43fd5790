"""Runtime hosts in PostgreSQL: registration, heartbeats, drain states, and the
placements the placement activity records.

A host's load is the number of apps routed to it plus the apps placed on it within
``PLACEMENT_HOLD_S`` whose route has not followed yet (so concurrent placements see
each other). Freshness is judged by the database's clock, the one every host shares.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime

from pydantic import BaseModel

from schemas.hosts import HostCapacity, HostState, RuntimeHostView
from store.db import Database

PLACEMENT_HOLD_S = 600
"""How long a placement counts on its host before its route exists (a roll-out's span)."""

# Serialises placements across workers (any constant fits; this one is "mbhost").
_PLACEMENT_LOCK = 0x6D62686F7374
# One loss detector acts at a time, whichever worker holds it ("mblost").
_LOSS_LOCK = 0x6D626C6F7374

_MARK_LOST = """
UPDATE runtime_hosts h SET state = 'lost', state_changed_at = now()
 WHERE h.state <> 'lost' AND h.heartbeat_at <= now() - make_interval(secs => %s)
   AND EXISTS (SELECT 1 FROM routes r WHERE r.host = h.name)
"""

_ROUTES_ON_LOST = """
SELECT h.name AS host, h.state_changed_at AS lost_at,
       extract(epoch FROM now() - h.heartbeat_at)::float8 AS silent_s,
       r.app_id, r.version, r.instance_id
  FROM runtime_hosts h JOIN routes r ON r.host = h.name
 WHERE h.state = 'lost' ORDER BY h.name, r.app_id
"""

_HOSTS_WITH_LOAD = """
SELECT h.*, extract(epoch FROM now() - h.heartbeat_at)::float8 AS heartbeat_age_s,
       h.heartbeat_at > now() - make_interval(secs => %(dead_after_s)s) AS live,
       (SELECT count(*) FROM (
            SELECT app_id FROM routes WHERE host = h.name
            UNION
            SELECT app_id FROM host_placements
             WHERE host = h.name AND placed_at > now() - make_interval(secs => %(hold_s)s)
        ) AS here WHERE here.app_id IS DISTINCT FROM %(exclude)s)::int AS apps
  FROM runtime_hosts h ORDER BY h.name
"""


class HostLoad(BaseModel):
    """A host as placement weighs it."""

    name: str
    state: HostState
    live: bool
    apps: int
    capacity: HostCapacity
    heartbeat_age_s: float


class LostRoute(BaseModel):
    """An app still routed to a lost host: it has to move."""

    host: str
    lost_at: datetime
    silent_s: float
    app_id: str
    version: int
    instance_id: str


Chooser = Callable[[list[HostLoad]], str]
"""Picks a host among all registered ones (raises when none fits)."""


class RuntimeHosts:
    """The registry of runtime hosts."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def register(self, name: str, capacity: HostCapacity) -> None:
        """Add the host, or refresh its capacity and heartbeat; its drain state stays
        (a drained host's worker restarting does not make it take apps again)."""
        async with self._db.connection() as conn:
            await conn.execute(
                "INSERT INTO runtime_hosts (name, max_apps, memory_mib, app_memory_mib)"
                " VALUES (%s, %s, %s, %s) ON CONFLICT (name) DO UPDATE SET"
                " max_apps = EXCLUDED.max_apps, memory_mib = EXCLUDED.memory_mib,"
                " app_memory_mib = EXCLUDED.app_memory_mib, heartbeat_at = now()",
                (name, capacity.max_apps, capacity.memory_mib, capacity.app_memory_mib),
            )

    async def heartbeat(self, name: str) -> HostState | None:
        """The host is alive; a draining host with nothing left on it becomes drained.
        Returns its state (None: not registered)."""
        async with self._db.connection() as conn:
            row = await (
                await conn.execute(
                    "UPDATE runtime_hosts SET heartbeat_at = now() WHERE name = %s RETURNING state",
                    (name,),
                )
            ).fetchone()
        if row is None:
            return None
        return await self.settle(name) if row["state"] == "draining" else row["state"]

    async def hosts(self, dead_after_s: float) -> list[RuntimeHostView]:
        """Every registered host with its load, by name."""
        async with self._db.connection() as conn:
            rows = await (
                await conn.execute(_HOSTS_WITH_LOAD, _load_params(dead_after_s, None))
            ).fetchall()
        return [RuntimeHostView.model_validate(r) for r in rows]

    async def host(self, name: str, dead_after_s: float) -> RuntimeHostView | None:
        """One host with its load."""
        return next((h for h in await self.hosts(dead_after_s) if h.name == name), None)

    async def place(self, app_id: str, choose: Chooser, dead_after_s: float) -> str:
        """Choose a host for ``app_id`` (its own instances not counted: it replaces
        them) and record the placement, one placement at a time."""
        async with self._db.transaction() as conn:
            await conn.execute("SELECT pg_advisory_xact_lock(%s)", (_PLACEMENT_LOCK,))
            rows = await (
                await conn.execute(_HOSTS_WITH_LOAD, _load_params(dead_after_s, app_id))
            ).fetchall()
            chosen = choose(
                [
                    HostLoad(
                        name=r["name"],
                        state=r["state"],
                        live=r["live"],
                        apps=r["apps"],
                        capacity=HostCapacity.model_validate(r),
                        heartbeat_age_s=r["heartbeat_age_s"],
                    )
                    for r in rows
                ]
            )
            await conn.execute(
                "INSERT INTO host_placements (app_id, host) VALUES (%s, %s)"
                " ON CONFLICT (app_id) DO UPDATE SET host = EXCLUDED.host, placed_at = now()",
                (app_id, chosen),
            )
        return chosen

    async def set_state(self, name: str, state: HostState) -> bool:
        """Drain (``draining``) or undrain (``active``) a host; False if unknown. A drained
        host asked to drain again stays drained."""
        async with self._db.transaction() as conn:
            found = await (
                await conn.execute(
                    "SELECT state FROM runtime_hosts WHERE name = %s FOR UPDATE", (name,)
                )
            ).fetchone()
            if found is None:
                return False
            if found["state"] != state and not (
                state == "draining" and found["state"] == "drained"
            ):
                await conn.execute(
                    "UPDATE runtime_hosts SET state = %s, state_changed_at = now() WHERE name = %s",
                    (state, name),
                )
        return True

    async def lose_silent(
        self, dead_after_s: float, act: Callable[[list[LostRoute]], Awaitable[None]]
    ) -> bool:
        """Mark lost every host silent for ``dead_after_s`` with apps routed to it, then
        ``act`` on the routes still on lost hosts, holding the detectors' lock
        throughout. False (nothing done) when another detector holds it."""
        async with self._db.transaction() as conn:
            got = await (
                await conn.execute("SELECT pg_try_advisory_xact_lock(%s) AS got", (_LOSS_LOCK,))
            ).fetchone()
            if got is None or not got["got"]:
                return False
            await conn.execute(_MARK_LOST, (dead_after_s,))
            rows = await (await conn.execute(_ROUTES_ON_LOST)).fetchall()
            await act([LostRoute.model_validate(r) for r in rows])
        return True

    async def settle(self, name: str) -> HostState | None:
        """A draining host that no app is routed to (nor being placed on) is drained."""
        async with self._db.connection() as conn:
            await conn.execute(
                "UPDATE runtime_hosts SET state = 'drained', state_changed_at = now()"
                " WHERE name = %(name)s AND state = 'draining'"
                " AND NOT EXISTS (SELECT 1 FROM routes WHERE host = %(name)s)"
                " AND NOT EXISTS (SELECT 1 FROM host_placements WHERE host = %(name)s"
                "   AND placed_at > now() - make_interval(secs => %(hold_s)s))",
                {"name": name, "hold_s": PLACEMENT_HOLD_S},
            )
            row = await (
                await conn.execute("SELECT state FROM runtime_hosts WHERE name = %s", (name,))
            ).fetchone()
        return None if row is None else row["state"]


def _load_params(dead_after_s: float, exclude: str | None) -> dict[str, object]:
    return {"dead_after_s": dead_after_s, "hold_s": PLACEMENT_HOLD_S, "exclude": exclude}

"""Where waiting QA gates stand in their worker's admission queue.

The admission controller lives in each QA worker process; the API and ``mb``
run elsewhere, so each worker publishes its waiting gates here (replacing its
own rows) and refreshes them while it lives. A worker that dies stops
refreshing: its rows go stale and readers ignore them.
"""

from __future__ import annotations

from collections.abc import Sequence

from schemas.qa import QueuedGate
from store.db import Database

# A worker refreshes its rows every few seconds; older rows belong to a dead worker.
STALE_AFTER_S = 30.0


class QAQueue:
    """Publish one worker's waiting gates; look up a deployment's place."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def publish(self, worker: str, waiting: Sequence[QueuedGate]) -> None:
        """Replace ``worker``'s rows with ``waiting`` (all stamped now)."""
        async with self._db.transaction() as conn:
            await conn.execute("DELETE FROM qa_queue_positions WHERE worker = %s", (worker,))
            if waiting:
                async with conn.cursor() as cur:
                    await cur.executemany(
                        "INSERT INTO qa_queue_positions"
                        " (worker, app_id, deployment_id, owner_id, position)"
                        " VALUES (%s, %s, %s, %s, %s)",
                        [
                            (worker, g.app_id, g.deployment_id, g.owner_id, g.position)
                            for g in waiting
                        ],
                    )

    async def position(self, app_id: str, deployment_id: str) -> int | None:
        """The deployment's QA gate's place in the queue (1: admitted next), None when it
        is not waiting. Split across workers, the farthest back counts (the gate runs
        whole only when its last stage is admitted)."""
        async with self._db.connection() as conn:
            row = await (
                await conn.execute(
                    "SELECT max(position) AS position FROM qa_queue_positions"
                    " WHERE app_id = %s AND deployment_id = %s"
                    " AND updated_at > now() - make_interval(secs => %s)",
                    (app_id, deployment_id, STALE_AFTER_S),
                )
            ).fetchone()
        return None if row is None or row["position"] is None else int(row["position"])

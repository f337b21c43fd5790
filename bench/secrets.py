"""The cost of fail-closed auditing: secret reveals per second with the audit row
written in the same transaction, divided by the same reads and decryptions without it.

Both sides run in this process against one embedded PostgreSQL, interleaved
over several rounds (best round each), sequentially and with 8 concurrent
readers (the audit chain serialises appends, so concurrency shows its cost).
"""

from __future__ import annotations

import asyncio
import time

from bench import scratch_database
from schemas.audit import Actor
from store.aes_keys import AesKeyRing
from store.audit import AuditLog
from store.envelope import Envelope
from store.secrets import SecretStore

ALICE = Actor(user_id="alice", client_ip="127.0.0.1")
READS = 300
ROUNDS = 3


class UnauditedReader(SecretStore):
    """The same owner check, select, unwrap and decrypt, minus the audit row (baseline)."""

    async def read(self, app_id: str, name: str) -> str:
        async with self._db.transaction() as conn:
            why = await self._app_state(conn, ALICE, app_id, lock=False)
            assert why is None
            sealed = await self._sealed(conn, ALICE.user_id, app_id, name, None)
        assert sealed is not None
        return self._open(sealed)


async def _rate(read: object, concurrency: int) -> float:
    async def worker(n: int) -> None:
        for _ in range(n):
            await read()  # type: ignore[operator]

    started = time.perf_counter()
    await asyncio.gather(*(worker(READS // concurrency) for _ in range(concurrency)))
    return READS / (time.perf_counter() - started)


async def main() -> None:
    async with scratch_database("mb-bench-secrets-") as db:
        async with db.connection() as conn:
            await conn.execute("INSERT INTO apps (app_id, owner_id) VALUES ('shop', 'alice')")
        envelope = Envelope(lambda: AesKeyRing.of("master", bytes(range(32))))
        audited = SecretStore(db, envelope, AuditLog(db))
        baseline = UnauditedReader(db, envelope, AuditLog(db))
        await audited.set(ALICE, "shop", "STRIPE_KEY", "sk_live_" + "x" * 40)

        figures: dict[str, float] = {}
        for concurrency in (1, 8):
            with_audit: list[float] = []
            without: list[float] = []
            for _ in range(ROUNDS):
                without.append(
                    await _rate(lambda: baseline.read("shop", "STRIPE_KEY"), concurrency)
                )
                with_audit.append(
                    await _rate(lambda: audited.reveal(ALICE, "shop", "STRIPE_KEY"), concurrency)
                )
            best_with, best_without = max(with_audit), max(without)
            print(
                f"concurrency {concurrency}: audited {best_with:8.0f}/s,"
                f" unaudited {best_without:8.0f}/s"
            )
            figures[f"secret_reveals_per_s_c{concurrency}"] = best_with
            figures[f"secret_reveal_audit_ratio_c{concurrency}"] = best_with / best_without
        assert (await AuditLog(db).verify()).ok
        for name, value in figures.items():
            print(f"{name}: {value:.2f}" if "ratio" in name else f"{name}: {value:.0f}")


if __name__ == "__main__":
    asyncio.run(main())

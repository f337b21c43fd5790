"""Which secret versions a start injects: a release's first start pins what it got, a
rollback to it (or a restart of it) gets exactly those, a refresh gets the current
ones, and a deleted secret never comes back through a rollback."""

from __future__ import annotations

from pathlib import Path

import pytest

from activities.runtime_activities import secrets_for_start
from schemas.audit import Actor
from store.aes_keys import AesKeyRing
from store.apps import AppRepository
from store.audit import AuditLog
from store.db import Database
from store.envelope import Envelope
from store.owner_keys import OwnerKeys
from store.release_secrets import ReleaseSecrets
from store.secrets import SecretNotFound, SecretStore

OWNER, RUNTIME = Actor(user_id="alice"), Actor(user_id="runtime:test-host")
RING = AesKeyRing.of("master", bytes(range(32)))


async def test_a_rollback_starts_a_release_with_the_secrets_it_was_deployed_with(
    db: Database, tmp_path: Path
) -> None:
    store = SecretStore(db, Envelope(lambda: RING, OwnerKeys(tmp_path / "owners")), AuditLog(db))
    pins = ReleaseSecrets(db)
    await AppRepository(db).ensure("shop", "alice")
    await store.set(OWNER, "shop", "API_TOKEN", "token-one")

    async def start(version: int, generation: int = 0) -> dict[str, str]:
        return await secrets_for_start(
            store, pins, RUNTIME, "shop", version, generation, ["API_TOKEN"]
        )

    assert await start(1) == {"API_TOKEN": "token-one"}  # release 1 deployed
    assert await pins.pinned("shop", 1) == {"API_TOKEN": 1}
    await store.set(OWNER, "shop", "API_TOKEN", "token-two")
    assert await start(1, generation=1) == {"API_TOKEN": "token-two"}  # the refresh
    assert await start(2) == {"API_TOKEN": "token-two"}  # release 2 deployed
    # Rolling back to release 1 (or restarting it) brings back what it was deployed with.
    assert await start(1) == {"API_TOKEN": "token-one"}
    assert await start(2) == {"API_TOKEN": "token-two"}
    assert await pins.pinned("shop", 1) == {"API_TOKEN": 1}  # the first start won

    # A deleted secret destroys every version: no rollback brings it back.
    await store.delete(OWNER, "shop", "API_TOKEN")
    with pytest.raises(SecretNotFound):
        await start(1)
    refused = await AuditLog(db).search(action="secret.inject", outcome="failed", limit=1)
    assert refused[0].detail == {"reason": "not set: API_TOKEN v1"}

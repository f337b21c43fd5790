"""The secrets store against a real PostgreSQL: owner checks (another user's secret is
"not found" and the attempt audited), values encrypted at rest and bound to their row,
and every access refused when its audit row cannot be written."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import psycopg
import pytest
from psycopg.conninfo import make_conninfo

from schemas.audit import Actor
from store.aes_keys import AesKeyRing
from store.audit import AuditLog, AuditWriteFailed
from store.db import Database
from store.envelope import DecryptionFailed, Envelope
from store.secrets import SecretNotFound, SecretStore

ALICE = Actor(user_id="alice", client_ip="203.0.113.7")
MALLORY = Actor(user_id="mallory", client_ip="198.51.100.9")
VALUE = "sk_live_51Hx-very-secret-value"
RING = AesKeyRing.of("master", bytes(range(32)))


def _store(db: Database) -> SecretStore:
    return SecretStore(db, Envelope(lambda: RING), AuditLog(db))


@pytest.fixture
async def store(db: Database) -> SecretStore:
    async with db.connection() as conn:
        await conn.execute("INSERT INTO apps (app_id, owner_id) VALUES ('shop', 'alice')")
        await conn.execute("INSERT INTO apps (app_id, owner_id) VALUES ('blog', 'mallory')")
    return _store(db)


async def _audit_rows(db: Database) -> list[tuple[str, str, str, str]]:
    rows = await AuditLog(db).search(newest_first=False, limit=1000)
    return [(r.actor, r.action, r.resource, r.outcome) for r in rows]


async def test_set_list_reveal_delete(store: SecretStore, db: Database) -> None:
    first = await store.set(ALICE, "shop", "STRIPE_KEY", VALUE)
    second = await store.set(ALICE, "shop", "STRIPE_KEY", VALUE + "-2")
    await store.set(ALICE, "shop", "DB_URL", "postgres://x")
    assert (first.version, second.version) == (1, 2)

    listed = await store.names(ALICE, "shop")
    assert [(s.name, s.version) for s in listed] == [("DB_URL", 1), ("STRIPE_KEY", 2)]
    assert VALUE not in "".join(s.model_dump_json() for s in listed)

    assert await store.reveal(ALICE, "shop", "STRIPE_KEY") == (2, VALUE + "-2")
    assert await store.reveal(ALICE, "shop", "STRIPE_KEY", 1) == (1, VALUE)

    assert await store.delete(ALICE, "shop", "STRIPE_KEY") == 2
    with pytest.raises(SecretNotFound):
        await store.reveal(ALICE, "shop", "STRIPE_KEY")
    with pytest.raises(SecretNotFound):
        await store.reveal(ALICE, "shop", "STRIPE_KEY", 1)
    with pytest.raises(SecretNotFound):
        await store.delete(ALICE, "shop", "STRIPE_KEY")
    assert [s.name for s in await store.names(ALICE, "shop")] == ["DB_URL"]
    # A new value after a delete continues the version numbers.
    assert (await store.set(ALICE, "shop", "STRIPE_KEY", "new")).version == 3

    actions = [(a, o) for _, a, _, o in await _audit_rows(db)]
    assert actions[:6] == [
        ("secret.set", "ok"),
        ("secret.set", "ok"),
        ("secret.set", "ok"),
        ("secret.list", "ok"),
        ("secret.reveal", "ok"),
        ("secret.reveal", "ok"),
    ]
    assert ("secret.delete", "ok") in actions and ("secret.reveal", "failed") in actions
    assert (await AuditLog(db).verify()).ok


async def test_values_are_encrypted_at_rest_and_never_audited(
    store: SecretStore, db: Database
) -> None:
    await store.set(ALICE, "shop", "STRIPE_KEY", VALUE)
    await store.reveal(ALICE, "shop", "STRIPE_KEY")
    async with db.connection() as conn:
        dump = await (
            await conn.execute(
                "SELECT (SELECT string_agg(encode(ciphertext, 'escape'), '') FROM secrets)"
                " || (SELECT string_agg(detail::text || resource, '') FROM audit_log)"
                " || (SELECT string_agg(encode(wrapped, 'escape'), '') FROM data_keys) AS all"
            )
        ).fetchone()
    assert dump is not None and VALUE not in dump["all"] and "sk_live" not in dump["all"]


async def test_another_users_secret_is_not_found_and_the_attempt_audited(
    store: SecretStore, db: Database
) -> None:
    await store.set(ALICE, "shop", "STRIPE_KEY", VALUE)
    await store.set(MALLORY, "blog", "TOKEN", "mallory-token")
    victim = "shop"
    attempts = [
        store.reveal(MALLORY, victim, "STRIPE_KEY"),
        store.names(MALLORY, victim),
        store.set(MALLORY, victim, "STRIPE_KEY", "overwritten"),
        store.delete(MALLORY, victim, "STRIPE_KEY"),
    ]
    for attempt in attempts:
        with pytest.raises(SecretNotFound) as caught:
            await attempt
        assert VALUE not in str(caught.value)
    # The same answer as for an app that does not exist at all.
    with pytest.raises(SecretNotFound) as missing:
        await store.reveal(MALLORY, "no-such-app", "STRIPE_KEY")
    with pytest.raises(SecretNotFound) as foreign:
        await store.reveal(MALLORY, "shop", "STRIPE_KEY")
    assert str(missing.value).replace("no-such-app", "shop") == str(foreign.value)

    assert await store.reveal(ALICE, "shop", "STRIPE_KEY") == (1, VALUE)  # nothing changed
    denied = [r for r in await _audit_rows(db) if r[0] == "mallory" and r[3] == "denied"]
    assert {a for _, a, _, _ in denied} == {
        "secret.reveal",
        "secret.list",
        "secret.set",
        "secret.delete",
    }
    rows = await AuditLog(db).search(actor="mallory", outcome="denied")
    assert all(r.client_ip == "198.51.100.9" for r in rows)


async def test_a_ciphertext_copied_into_another_row_does_not_decrypt(
    store: SecretStore, db: Database
) -> None:
    await store.set(ALICE, "shop", "STRIPE_KEY", VALUE)
    await store.set(ALICE, "shop", "PUBLIC_NAME", "harmless")
    async with db.connection() as conn:
        await conn.execute(
            "UPDATE secrets SET ciphertext = (SELECT ciphertext FROM secrets"
            " WHERE name = 'STRIPE_KEY') WHERE name = 'PUBLIC_NAME'"
        )
    with pytest.raises(DecryptionFailed) as caught:
        await store.reveal(ALICE, "shop", "PUBLIC_NAME")
    assert VALUE not in str(caught.value)


async def test_a_ciphertext_moved_to_another_owner_does_not_decrypt(
    store: SecretStore, db: Database
) -> None:
    """Mallory, with write access to the table, moves Alice's row under her own app."""
    await store.set(ALICE, "shop", "STRIPE_KEY", VALUE)
    await store.set(MALLORY, "blog", "STRIPE_KEY", "mine")
    async with db.connection() as conn:
        await conn.execute(
            "UPDATE secrets SET ciphertext = (SELECT ciphertext FROM secrets"
            " WHERE app_id = 'shop') WHERE app_id = 'blog'"
        )
    with pytest.raises(DecryptionFailed):
        await store.reveal(MALLORY, "blog", "STRIPE_KEY")


async def test_a_tampered_ciphertext_is_refused(store: SecretStore, db: Database) -> None:
    await store.set(ALICE, "shop", "STRIPE_KEY", VALUE)
    async with db.connection() as conn:
        await conn.execute(
            "UPDATE secrets SET ciphertext = set_byte(ciphertext, 20, get_byte(ciphertext, 20) # 1)"
        )
    with pytest.raises(DecryptionFailed):
        await store.reveal(ALICE, "shop", "STRIPE_KEY")


async def test_inject_returns_the_latest_values_and_refuses_missing_ones(
    store: SecretStore, db: Database
) -> None:
    await store.set(ALICE, "shop", "STRIPE_KEY", "v1")
    await store.set(ALICE, "shop", "STRIPE_KEY", "v2")
    await store.set(ALICE, "shop", "DB_URL", "db")
    await store.set(MALLORY, "blog", "DB_URL", "mallory-db")
    runtime = Actor(user_id="runtime:host-1")
    assert await store.inject(runtime, "shop", ["STRIPE_KEY", "DB_URL"]) == {
        "DB_URL": "db",
        "STRIPE_KEY": "v2",
    }
    assert await store.inject(runtime, "blog", ["DB_URL"]) == {"DB_URL": "mallory-db"}
    with pytest.raises(SecretNotFound):
        await store.inject(runtime, "shop", ["STRIPE_KEY", "MISSING"])
    rows = await AuditLog(db).search(action="secret.inject", newest_first=False)
    assert [(r.actor, r.outcome, r.detail) for r in rows] == [
        ("runtime:host-1", "ok", {"owner": "alice", "secrets": {"DB_URL": 1, "STRIPE_KEY": 2}}),
        ("runtime:host-1", "ok", {"owner": "mallory", "secrets": {"DB_URL": 1}}),
        ("runtime:host-1", "failed", {"reason": "not set: MISSING"}),
    ]
    assert await store.versions("shop") == {"DB_URL": 1, "STRIPE_KEY": 2}


@pytest.mark.parametrize(
    ("name", "value", "error"),
    [
        ("lower", "x", "secret name"),
        ("9LIVES", "x", "secret name"),
        ("A" * 65, "x", "secret name"),
        ("BAD-NAME", "x", "secret name"),
        ("OK", "x" * (64 * 1024 + 1), "at most 65536 bytes"),
        ("OK", "nul\0inside", "NUL"),
    ],
)
async def test_bad_input_changes_nothing(
    store: SecretStore, db: Database, name: str, value: str, error: str
) -> None:
    with pytest.raises(ValueError, match=error):
        await store.set(ALICE, "shop", name, value)
    assert await store.versions("shop") == {}


async def test_concurrent_writers_get_distinct_versions(store: SecretStore) -> None:
    infos = await asyncio.gather(*(store.set(ALICE, "shop", "K", f"v{i}") for i in range(12)))
    assert sorted(i.version for i in infos) == list(range(1, 13))


# --- fail closed ----------------------------------------------------------------------------


@pytest.fixture
async def app_role_db(db: Database, pg_uri: str) -> AsyncIterator[Database]:
    """The store as an application role that owns nothing, with INSERT on audit_log revoked."""
    role = f"mb_app_{uuid.uuid4().hex[:8]}"
    async with db.connection() as conn:
        dbname = (await (await conn.execute("SELECT current_database() AS d")).fetchone() or {})[
            "d"
        ]
        await conn.execute(f'CREATE ROLE "{role}" LOGIN')
        await conn.execute(
            f'GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA public TO "{role}"'
        )
        await conn.execute(f'REVOKE INSERT ON audit_log FROM "{role}"')
    limited = Database(make_conninfo(pg_uri, dbname=dbname, user=role), max_size=2)
    await limited.open()
    yield limited
    await limited.close()
    async with db.connection() as conn:
        await conn.execute(f'DROP OWNED BY "{role}"')
        await conn.execute(f'DROP ROLE "{role}"')


async def test_without_audit_insert_every_read_and_write_fails_and_returns_nothing(
    store: SecretStore, db: Database, app_role_db: Database
) -> None:
    await store.set(ALICE, "shop", "STRIPE_KEY", VALUE)
    limited = _store(app_role_db)
    # The role really can read the secret rows: only the audit insert is missing.
    async with app_role_db.connection() as conn:
        assert (await (await conn.execute("SELECT count(*) AS n FROM secrets")).fetchone() or {})[
            "n"
        ] == 1
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            await conn.execute(
                "INSERT INTO audit_log VALUES"
                " (999, now(), 'x', NULL, 'x', 'x', 'ok', '{}', '', 'x')"
            )

    operations = [
        limited.reveal(ALICE, "shop", "STRIPE_KEY"),
        limited.names(ALICE, "shop"),
        limited.set(ALICE, "shop", "STRIPE_KEY", "replaced"),
        limited.set(ALICE, "shop", "NEW_ONE", "x"),
        limited.delete(ALICE, "shop", "STRIPE_KEY"),
        limited.inject(ALICE, "shop", ["STRIPE_KEY"]),
        limited.reveal(MALLORY, "shop", "STRIPE_KEY"),  # even a refusal must be audited
    ]
    for operation in operations:
        with pytest.raises(AuditWriteFailed) as caught:
            await operation
        assert VALUE not in str(caught.value)

    # Nothing changed: the same single version, still revealable through the full store.
    assert await store.versions("shop") == {"STRIPE_KEY": 1}
    assert await store.reveal(ALICE, "shop", "STRIPE_KEY") == (1, VALUE)
    assert (await AuditLog(db).verify()).ok

"""Erasure in the database: the user's rows go, what is kept is pseudonymised, nobody
else's data is touched, and an old copy of their ciphertext dies with their key."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from schemas.audit import Actor
from schemas.moderation import ModerationResult
from store.aes_keys import AesKeyRing
from store.apps import AppRepository
from store.artifacts import ArtifactStore
from store.audit import AuditLog
from store.db import Database
from store.envelope import DataKeyErased, Envelope, SecretRef
from store.generation_repairs import GenerationRepairs
from store.moderation_log import ModerationLog
from store.outbox import MailOutbox
from store.owner_keys import OwnerKeys
from store.privacy_erasure import ERASED_NAME, PrivacyErasures, UnknownUser
from store.privacy_export import collect
from store.secrets import SecretStore
from store.sessions import SessionStore
from store.tokens import TokenRepository
from store.users import UserRepository

RING = AesKeyRing.of("master", bytes(range(32)))
SHARED_BUNDLE = b"a bundle both users happen to have"


def _sessions(db: Database) -> SessionStore:
    return SessionStore(db, idle_timeout=timedelta(hours=1), absolute_timeout=timedelta(hours=2))


@pytest.fixture
def owner_keys(tmp_path: Path) -> OwnerKeys:
    return OwnerKeys(tmp_path / "owners")


@pytest.fixture
def secrets(db: Database, owner_keys: OwnerKeys) -> SecretStore:
    return SecretStore(db, Envelope(lambda: RING, owner_keys), AuditLog(db))


async def _seed(db: Database, secrets: SecretStore) -> dict[str, str]:
    """Alice and Bob, each with an app, a secret, a release, a QA report, a moderation
    entry, a session, a token and mail; returns tokens and session ids."""
    tokens = TokenRepository(db)
    artifacts = ArtifactStore(db)
    creds: dict[str, str] = {}
    for user in ("alice", "bob"):
        await tokens.ensure_user(user, user.title())
        async with db.connection() as conn:
            await conn.execute(
                "UPDATE users SET email = %s, email_verified_at = now(), issuer = 'https://idp',"
                " subject = %s WHERE id = %s",
                (f"{user}@example.com", f"sub-{user}", user),
            )
        app = f"{user}-app"
        await AppRepository(db).ensure(app, user)
        await secrets.set(Actor(user_id=user), app, "API_KEY", f"{user}-secret-value")
        own_bundle = await artifacts.put("bundle", f"{user}'s own bundle".encode())
        shared = await artifacts.put("bundle", SHARED_BUNDLE)
        report = await artifacts.put("qa-report", f"{user}'s QA report".encode())
        async with db.connection() as conn:
            for version, bundle in ((1, shared), (2, own_bundle)):
                await conn.execute(
                    "INSERT INTO releases (app_id, version, deployment_id, bundle_hash, host,"
                    " instance_id) VALUES (%s, %s, %s, %s, 'h', %s)",
                    (app, version, f"{user}-dep-{version}", bundle, f"{app}-v{version}"),
                )
            await conn.execute(
                "INSERT INTO qa_reports (deployment_id, app_id, owner_id, bundle_hash, verdict,"
                " report_sha256, summary) VALUES (%s, %s, %s, %s, 'pass', %s, 'ok')",
                (f"{user}-dep-2", app, user, own_bundle, report),
            )
        await GenerationRepairs(db).save(
            app_id=app,
            deployment_id=f"{user}-dep-2",
            attempt=2,
            from_bundle_hash=own_bundle,
            owner_id=user,
            report_sha256=report,
            bundle_hash=await artifacts.put("bundle", f"{user}'s repaired bundle".encode()),
            backend="openai",
            file_count=4,
            findings_chars=100,
        )
        await ModerationLog(db).record(
            deployment_id=f"{user}-dep-1",
            owner_id=user,
            app_id=app,
            prompt=f"a login page for {user}",
            result=ModerationResult(verdict="flag", reason="login page", backend="local"),
        )
        creds[f"{user}-token"] = await tokens.issue(user)
        creds[f"{user}-session"] = (
            await _sessions(db).create(user, client_ip="127.0.0.9", user_agent="test")
        ).session_id
        await MailOutbox(db).enqueue(f"{user}@example.com", "hello", "a mail")
    return creds


async def _wrapped_key_and_ciphertext(db: Database, owner: str) -> tuple[str, bytes, bytes]:
    """What a backup taken now would hold of the owner's secret."""
    async with db.connection() as conn:
        row = await (
            await conn.execute(
                "SELECT d.master_key_id, d.wrapped, s.ciphertext FROM secrets s"
                " JOIN data_keys d ON d.owner_id = s.owner_id AND d.version = s.data_key_version"
                " WHERE s.owner_id = %s",
                (owner,),
            )
        ).fetchone()
    assert row is not None
    return str(row["master_key_id"]), bytes(row["wrapped"]), bytes(row["ciphertext"])


async def test_erasure_deletes_pseudonymises_and_spares_everyone_else(
    db: Database, secrets: SecretStore, owner_keys: OwnerKeys
) -> None:
    creds = await _seed(db, secrets)
    before_bob = await collect(db, "bob")
    erasures = PrivacyErasures(db, AuditLog(db))
    tokens, sessions = TokenRepository(db), _sessions(db)

    start = await erasures.begin("alice", requested_by="operator-1")
    assert start.app_ids == ["alice-app"] and start.verified
    # The way in is shut at once: token, session and login identity.
    assert await tokens.verify(creds["alice-token"]) is None
    assert await sessions.check(creds["alice-session"]) is None
    assert (await UserRepository(db).from_login("https://idp", "sub-alice", None)).id != "alice"
    assert not await UserRepository(db).reinstate("alice")  # erasure is not a suspension

    counts = await erasures.erase("alice")
    assert owner_keys.shred("alice")
    assert counts["secrets"] == 1 and counts["releases"] == 2 and counts["qa_reports"] == 1
    assert counts["generation_repairs"] == 1
    # alice's own bundle, report and repaired bundle; not the shared bundle
    assert counts["artifacts"] == 3
    assert counts["moderation_pseudonymised"] == 1 and counts["mail"] == 1

    left = await collect(db, "alice")
    (account,) = left["account"]
    assert account["display_name"] == ERASED_NAME
    assert account["email"] is None and account["subject"] is None and account["issuer"] is None
    assert all(app["deleted_at"] is not None for app in left["apps"])
    for gone in (
        "releases",
        "qa_reports",
        "generation_repairs",
        "secrets",
        "sessions",
        "tokens",
        "mail",
    ):
        assert left[gone] == [], gone
    assert [m["prompt"] for m in left["moderation"]] == [None]
    assert any(a["action"] == "privacy.erase" for a in left["audit"])  # kept, chained
    assert (await AuditLog(db).verify()).ok

    # Bob: every row as it was, his secret still opens, the shared bundle is still there.
    assert await collect(db, "bob") == before_bob
    assert (await secrets.reveal(Actor(user_id="bob"), "bob-app", "API_KEY"))[1] == (
        "bob-secret-value"
    )
    assert await tokens.verify(creds["bob-token"]) == "bob"
    assert await ArtifactStore(db).exists(
        next(r["bundle_hash"] for r in before_bob["releases"] if r["version"] == 1)
    )

    # Repeating a step changes nothing and reports the first run's counts.
    assert await erasures.erase("alice") == counts
    assert await collect(db, "alice") == left


async def test_a_copy_of_the_ciphertext_taken_before_erasure_stays_dead(
    db: Database, secrets: SecretStore, owner_keys: OwnerKeys
) -> None:
    await _seed(db, secrets)
    kid, wrapped, ciphertext = await _wrapped_key_and_ciphertext(db, "alice")
    envelope = Envelope(lambda: RING, owner_keys)
    ref = SecretRef("alice", "alice-app", "API_KEY", 1, 1)
    # The control: with the key in place, the copy opens (so the check below can fail).
    assert Envelope.open(envelope.unwrap("alice", 1, kid, wrapped), ref, ciphertext) == (
        b"alice-secret-value"
    )
    erasures = PrivacyErasures(db, AuditLog(db))
    await erasures.begin("alice", requested_by="alice")
    owner_keys.shred("alice")
    await erasures.erase("alice")
    with pytest.raises(DataKeyErased):
        envelope.unwrap("alice", 1, kid, wrapped)
    assert (await erasures.status("alice")) is not None


async def test_erasing_nobody_is_refused_and_changes_nothing(db: Database) -> None:
    erasures = PrivacyErasures(db, AuditLog(db))
    with pytest.raises(UnknownUser):
        await erasures.begin("ghost", requested_by="operator-1")
    with pytest.raises(UnknownUser):
        await erasures.erase("ghost")
    assert await erasures.status("ghost") is None

"""Repositories against a real PostgreSQL: idempotency, ownership and atomic switches."""

from __future__ import annotations

import asyncio
import hashlib

import pytest

from schemas.audit import Actor
from schemas.moderation import CategoryScore, ModerationCategory, ModerationResult
from store.aes_keys import AesKeyRing
from store.apps import AppOwnedByAnother, AppRepository
from store.artifacts import ArtifactNotFound, ArtifactStore
from store.audit import AuditLog
from store.db import Database
from store.envelope import Envelope
from store.moderation_log import ModerationLog
from store.qa_reports import QAReportRepository
from store.releases import ReleaseRepository
from store.secrets import SecretStore
from store.tokens import TokenRepository, hash_token


async def test_migrations_are_idempotent(db: Database) -> None:
    assert await db.migrate() == []  # already applied by the fixture


async def test_artifacts_are_content_addressed_and_verified(db: Database) -> None:
    store = ArtifactStore(db)
    digest = await store.put("bundle", b"hello")
    assert digest == hashlib.sha256(b"hello").hexdigest()
    assert await store.put("bundle", b"hello") == digest  # idempotent
    assert await store.get(digest) == b"hello"
    async with db.connection() as conn:
        await conn.execute("UPDATE artifacts SET data = 'tampered' WHERE sha256 = %s", (digest,))
    with pytest.raises(ArtifactNotFound, match="corrupt"):
        await store.get(digest)
    with pytest.raises(ArtifactNotFound):
        await store.get("0" * 64)


async def test_app_ownership(db: Database) -> None:
    apps = AppRepository(db)
    await apps.ensure("todo-app", "alice")
    await apps.ensure("todo-app", "alice")  # idempotent for the owner
    with pytest.raises(AppOwnedByAnother):
        await apps.ensure("todo-app", "mallory")
    assert await apps.owner("todo-app") == "alice"
    assert await apps.list_for("mallory") == []


async def test_tokens_hashed_verified_and_revoked(db: Database) -> None:
    tokens = TokenRepository(db)
    await tokens.ensure_user("alice", "Alice")
    token = await tokens.issue("alice")
    async with db.connection() as conn:
        rows = await (await conn.execute("SELECT token_sha256 FROM api_tokens")).fetchall()
    assert [bytes(r["token_sha256"]) for r in rows] == [hash_token(token)]
    assert token.encode() not in b"".join(bytes(r["token_sha256"]) for r in rows)
    assert await tokens.verify(token) == "alice"
    assert await tokens.verify(token + "x") is None
    assert await tokens.verify("mbt_" + "A" * 43) is None
    assert await tokens.revoke_all("alice") == 1
    assert await tokens.verify(token) is None


async def _bundle(db: Database) -> str:
    return await ArtifactStore(db).put("bundle", b"{}")


async def test_release_recorded_once_per_deployment(db: Database) -> None:
    releases = ReleaseRepository(db)
    digest = await _bundle(db)
    kwargs = {
        "app_id": "todo-app",
        "owner_id": "alice",
        "version": 1,
        "deployment_id": "d1",
        "bundle_hash": digest,
        "host": "local",
        "instance_id": "todo-app-v1",
    }
    first = await releases.record(**kwargs)  # type: ignore[arg-type]
    again = await releases.record(**kwargs)  # type: ignore[arg-type]
    assert first == again
    assert await releases.count_for_deployment("d1") == 1


async def test_qa_reports_are_kept_once_per_deployment_and_attempt(db: Database) -> None:
    reports = QAReportRepository(db)
    digest = await ArtifactStore(db).put("qa-report", b"{}")

    async def save(attempt: int, verdict: str, summary: str) -> str:
        row = await reports.save_report(
            deployment_id="d1",
            app_id="todo-app",
            owner_id="alice",
            bundle_hash=f"{attempt}" * 64,
            verdict=verdict,
            report_sha256=digest,
            summary=summary,
            attempt=attempt,
        )
        return f"{row.attempt} {row.verdict} {row.summary}"

    assert await save(1, "fail", "first") == "1 fail first"
    assert await save(1, "pass", "a retry") == "1 fail first"  # a retry gets the first row
    assert await save(2, "pass", "repaired") == "2 pass repaired"
    latest = await reports.report("d1")
    assert latest is not None and latest.attempt == 2  # the deployment's verdict
    first = await reports.report("d1", 1)
    assert first is not None and first.verdict == "fail"
    assert await reports.report("d1", 3) is None
    assert [r.attempt for r in await reports.reports("d1")] == [1, 2]


async def test_switch_is_atomic_and_idempotent(db: Database) -> None:
    releases = ReleaseRepository(db)

    async def switch(version: int, request_id: str) -> int | None:
        return await releases.switch(
            app_id="todo-app",
            owner_id="alice",
            version=version,
            instance_id=f"todo-app-v{version}",
            socket_path=f"/s/{version}",
            host="local",
            reason="test",
            request_id=request_id,
        )

    assert await switch(1, "r1") is None
    assert await switch(2, "r2") == 1
    assert await switch(2, "r2") == 1  # a retried switch reports the same and changes nothing
    route = await releases.route("todo-app")
    assert route is not None and route.version == 2
    # Concurrent switches serialise: every one sees a distinct predecessor.
    results = await asyncio.gather(*(switch(v, f"c{v}") for v in range(3, 9)))
    assert len(set(results)) == len(results)
    async with db.connection() as conn:
        events = await (await conn.execute("SELECT count(*) AS n FROM route_events")).fetchone()
    assert events is not None and events["n"] == 8
    await releases.clear_route(app_id="todo-app", reason="down", request_id="x1")
    assert await releases.route("todo-app") is None


async def test_moderation_log_once_per_deployment(db: Database) -> None:
    log = ModerationLog(db)
    result = ModerationResult(
        verdict="block",
        categories=(CategoryScore(category=ModerationCategory.MALWARE, score=0.9),),
        reason="keylogger",
        backend="local",
    )
    for _ in range(2):
        await log.record(
            deployment_id="d1", owner_id="u", app_id="a-app", prompt="a keylogger", result=result
        )
    entries = await log.recent()
    assert len(entries) == 1
    assert entries[0].categories == {"malware": 0.9}
    assert entries[0].prompt_sha256 == hashlib.sha256(b"a keylogger").hexdigest()


async def test_only_the_owner_can_delete_an_app(db: Database) -> None:
    """The store checks the owner itself: a non-owner's delete changes nothing, even when
    no API dependency refused it first."""
    apps, audit = AppRepository(db), AuditLog(db)
    await apps.ensure("shop", "alice")
    secrets = SecretStore(db, Envelope(lambda: AesKeyRing.of("m", bytes(range(32)))), audit)
    alice = Actor(user_id="alice", client_ip="127.0.0.1")
    await secrets.set(alice, "shop", "STRIPE_KEY", "sk_live_kept")
    before = await audit.head()

    mallory = Actor(user_id="mallory", client_ip="127.0.0.1")
    assert await apps.delete("shop", mallory, audit) is False

    assert await apps.owner("shop") == "alice"
    assert await apps.list_for("alice") == ["shop"]
    assert await secrets.reveal(alice, "shop", "STRIPE_KEY") == (1, "sk_live_kept")
    head = await audit.head()
    assert head is not None and before is not None and head.seq == before.seq + 1
    assert head.action == "secret.reveal"  # the reveal above; no app.delete was recorded
    assert await apps.delete("shop", alice, audit) is True  # the owner still can
    assert await apps.owner("shop") is None

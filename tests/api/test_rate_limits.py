"""Rate limits: at most 60 requests in any minute per user (a sliding window, so not
twice that across a boundary), enforced across two real API processes sharing
PostgreSQL; 429 with Retry-After; other users unaffected; the window recovers;
browser sessions share their user's budget; unauthenticated requests are limited
per client address."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from psycopg import AsyncConnection
from psycopg.conninfo import make_conninfo
from psycopg.rows import DictRow
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from api.services import Services
from schemas.settings import Settings
from store.audit import AuditLog
from store.db import Database
from store.rate_limits import HIT, RateLimiter
from store.tokens import TokenRepository
from temporal.devserver import free_loopback_port


async def test_exactly_the_limit_passes_under_a_concurrent_burst(db: Database) -> None:
    now = [1_000_040.0]
    limiter = RateLimiter(db, limit=60, window_s=60, clock=lambda: now[0])
    verdicts = await asyncio.gather(*(limiter.hit("user:alice") for _ in range(100)))
    assert sum(v.allowed for v in verdicts) == 60
    refused = [v for v in verdicts if not v.allowed]
    assert {v.retry_after_s for v in refused} == {60}  # the burst leaves the window in 60 s
    assert sum(v.first_refusal for v in refused) == 1  # the one the API audits
    assert (await limiter.hit("user:bob")).allowed  # another user has their own budget

    now[0] += 59.9
    assert not (await limiter.hit("user:alice")).allowed
    now[0] += 0.1  # a whole minute after the burst
    assert (await limiter.hit("user:alice")).allowed


async def test_retry_after_stays_within_the_window_when_clocks_differ(db: Database) -> None:
    """Two API processes stamp requests with their own clocks: a burst from one whose
    clock runs 0.4 s ahead, then a refusal in the other, still waits at most a window."""
    ahead = RateLimiter(db, limit=5, window_s=60, clock=lambda: 2_000_000.4)
    behind = RateLimiter(db, limit=5, window_s=60, clock=lambda: 2_000_000.0)
    assert all([(await ahead.hit("user:carol")).allowed for _ in range(5)])
    verdict = await behind.hit("user:carol")
    assert not verdict.allowed
    assert verdict.retry_after_s == 60


async def test_no_span_of_a_minute_admits_more_than_the_limit(db: Database) -> None:
    """A fixed window admits the limit just before its boundary and the limit again just
    after it; a sliding window admits the limit once in any 60 s span."""
    start = 999_960.0  # a multiple of 60: where a fixed window would start
    now = [start]
    limiter = RateLimiter(db, limit=60, window_s=60, clock=lambda: now[0])
    admitted: list[float] = []
    refused = 0
    # A client asking 4 times a second for 3 minutes, and 60 times at once half a
    # second before and after each boundary a fixed window would have.
    for step in range(4 * 180):
        now[0] = start + step / 4
        burst = 60 if step % 240 in (238, 242) else 1  # 0.5 s before and after
        for _ in range(burst):
            verdict = await limiter.hit("ip:203.0.113.9")
            if verdict.allowed:
                admitted.append(now[0])
            else:
                refused += 1
    assert admitted and refused
    for i, first in enumerate(admitted):  # every span [t, t + 60) that starts at a request
        in_span = [t for t in admitted[i:] if t < first + 60]
        assert len(in_span) <= 60, (first - start, len(in_span))
    assert max(len([t for t in admitted if a <= t < a + 60]) for a in admitted) == 60

    # A refusal's Retry-After is when the span has room again: not earlier.
    now[0] = start + 180
    while (verdict := await limiter.hit("ip:203.0.113.9")).allowed:
        pass
    now[0] += verdict.retry_after_s - 1
    assert not (await limiter.hit("ip:203.0.113.9")).allowed
    now[0] += 1
    assert (await limiter.hit("ip:203.0.113.9")).allowed


async def test_browser_sessions_share_the_users_limit_with_their_tokens(
    db: Database, env: WorkflowEnvironment, tmp_path: Path
) -> None:
    """A session's requests count against its user's limit like a token's: 60 pass, the
    61st gets 429 (audited once), and the same user's token is refused too."""
    now = [datetime(2026, 12, 1, 12, 0, 0, tzinfo=UTC)]
    services = Services.build(
        Settings(data_dir=tmp_path / "d"), db, env.client, clock=lambda: now[0]
    )
    tokens = TokenRepository(db)
    for user in ("alice", "bob"):
        await tokens.ensure_user(user, user)
    bearer = {"Authorization": f"Bearer {await tokens.issue('alice')}"}
    other = {"Authorization": f"Bearer {await tokens.issue('bob')}"}
    session = await services.sessions.create("alice", client_ip="127.0.0.1", user_agent="t")
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(services)),
        base_url="http://testserver",
        cookies={"mb_session": session.session_id},
    ) as browser:
        codes = [(await browser.get("/v1/me")).status_code for _ in range(61)]
        assert codes == [200] * 60 + [429], codes
        assert (await browser.get("/v1/me", headers=bearer)).status_code == 429
        assert (await browser.get("/v1/me", headers=other)).status_code == 200
        limited = await AuditLog(db).search(action="rate.limited", limit=10)
        assert [r.resource for r in limited] == ["user:alice"]

        now[0] += timedelta(seconds=61)  # a fresh minute: tokens and session share it
        mixed = [
            (await browser.get("/v1/me", headers=bearer if i % 2 else {})).status_code
            for i in range(60)
        ]
        assert mixed == [200] * 60
        assert (await browser.get("/v1/me")).status_code == 429
        assert (await browser.get("/v1/me", headers=bearer)).status_code == 429


async def test_idle_keys_are_pruned_once_per_window(db: Database) -> None:
    now = [3_000_000.0]
    limiter = RateLimiter(db, limit=5, window_s=60, clock=lambda: now[0])
    await limiter.hit("user:idle")
    now[0] += 61
    await limiter.hit("user:busy")  # a window since the last prune: the idle key goes
    async with db.connection() as conn:
        keys = await (await conn.execute("SELECT key FROM rate_limits")).fetchall()
    assert {row["key"] for row in keys} >= {"user:busy"}
    assert "user:idle" not in {row["key"] for row in keys}

    now[0] += 61
    await limiter.hit("user:later")
    now[0] += 30
    async with db.connection() as conn:
        await conn.execute(
            "INSERT INTO rate_limits (key, times, counts, touched_at) VALUES (%s, '{}', '{}', 0)",
            ("user:stale",),
        )
    await limiter.hit("user:busy")  # half a window since the last prune: no scan now
    async with db.connection() as conn:
        stale = await (
            await conn.execute("SELECT 1 FROM rate_limits WHERE key = 'user:stale'")
        ).fetchone()
    assert stale is not None


async def test_counting_updates_are_hot(db: Database) -> None:
    """A busy key's row is rewritten on every request: with no index on a column the
    count changes, PostgreSQL updates it in place (HOT), without new index entries."""
    async with db.connection() as conn:
        before = await _updates(conn)
        for i in range(50):  # each request moves touched_at, the prune's column
            await conn.execute(HIT, ("user:hot", 4_000_000.0 + i / 100, 60.0, 1_000))
        await conn.execute("SELECT pg_stat_force_next_flush()")  # at this transaction's end
        updates, hot = (a - b for a, b in zip(await _updates(conn), before, strict=True))
    assert updates >= 49
    assert hot >= updates * 0.9, f"{hot} of {updates} counting updates were HOT"


async def _updates(conn: AsyncConnection[DictRow]) -> tuple[int, int]:
    await conn.execute("SELECT pg_stat_clear_snapshot()")
    row = await (
        await conn.execute(
            "SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables WHERE relname = 'rate_limits'"
        )
    ).fetchone()
    assert row is not None
    return int(row["n_tup_upd"]), int(row["n_tup_hot_upd"])


def test_limits_must_be_positive(db: Database) -> None:
    with pytest.raises(ValueError, match="positive"):
        RateLimiter(db, limit=0)


async def _api_process(env: dict[str, str], log: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_loopback_port()
    proc = subprocess.Popen(  # noqa: ASYNC220 - two servers, waited for below
        [sys.executable, "-m", "cli.main", "api"],
        # Processes on one host each serve their metrics on a port of their own.
        env={**env, "MB_API_PORT": str(port), "MB_METRICS_PORT": str(free_loopback_port())},
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    async with httpx.AsyncClient() as http:
        for _ in range(300):
            try:
                await http.get(url + "/healthz")
                return proc, url
            except httpx.TransportError:
                await asyncio.sleep(0.1)
    proc.kill()
    raise AssertionError(f"API did not start: {log.read_text()[-2000:]}")


@pytest.fixture
async def two_apis(
    db: Database, pg_uri: str, env: WorkflowEnvironment, tmp_path: Path
) -> AsyncIterator[tuple[list[str], dict[str, str]]]:
    async with db.connection() as conn:
        row = await (await conn.execute("SELECT current_database() AS d")).fetchone()
    assert row is not None
    tokens = TokenRepository(db)
    issued = {}
    for user in ("alice", "bob"):
        await tokens.ensure_user(user, user)
        issued[user] = await tokens.issue(user)
    target = env.client.service_client.config.target_host
    base = {k: v for k, v in os.environ.items() if not k.startswith("MB_")}
    base.update(
        MB_DATA_DIR=str(tmp_path / "data"),
        MB_DATABASE_URL=make_conninfo(pg_uri, dbname=row["d"]),
        MB_TEMPORAL_ADDRESS=target,
        PYTHONPATH=str(Path(__file__).parents[2]),
    )
    procs: list[tuple[subprocess.Popen[bytes], str]] = []
    try:
        for i in range(2):  # the first is stopped below even when the second fails
            procs.append(await _api_process(base, tmp_path / f"api-{i}.log"))
        yield [url for _, url in procs], issued
    finally:
        for proc, _ in procs:
            proc.terminate()
            proc.wait(timeout=20)


async def test_sixty_per_minute_across_two_api_processes(
    two_apis: tuple[list[str], dict[str, str]],
) -> None:
    urls, tokens = two_apis
    async with httpx.AsyncClient(timeout=30) as http:

        async def get(i: int, user: str) -> httpx.Response:
            headers = {"Authorization": f"Bearer {tokens[user]}"}
            return await http.get(urls[i % 2] + "/v1/apps", headers=headers)

        answers = await asyncio.gather(*(get(i, "alice") for i in range(100)))
        codes = [a.status_code for a in answers]
        assert codes.count(200) == 60 and codes.count(429) == 40, codes
        for refused in (a for a in answers if a.status_code == 429):
            assert 1 <= int(refused.headers["Retry-After"]) <= 60
            assert "rate limit" in refused.json()["detail"]
        assert {a.request.url.port for a in answers if a.status_code == 200} == {
            httpx.URL(u).port for u in urls
        }  # both processes served some: the budget really is shared
        other = await get(0, "bob")
        assert other.status_code == 200


async def test_unauthenticated_requests_are_limited_per_address(
    two_apis: tuple[list[str], dict[str, str]],
) -> None:
    urls, _ = two_apis
    async with httpx.AsyncClient(timeout=30) as http:
        answers = await asyncio.gather(
            *(
                http.get(urls[i % 2] + "/v1/apps", headers={"Authorization": f"Bearer mbt_{i}"})
                for i in range(70)
            )
        )
    codes = [a.status_code for a in answers]
    assert codes.count(401) == 60 and codes.count(429) == 10, codes

"""The cost of authentication, rate limiting and owner checks on the HTTP API.

    .venv/bin/python -m bench.api [--seconds N] [--load-seconds 60] [--load-users 50]
                                  [--load-limit 3000]

One run starts the real stack (Temporal dev server, embedded PostgreSQL, a
worker in this process, the API as its own ``mb api`` process) and drives it
with wrk from Debian over loopback:

- baseline: ``GET /healthz`` (unauthenticated; it checks PostgreSQL and Temporal);
- measured: ``GET /v1/apps/{app}`` with a bearer token (token lookup and the
  shared rate limiter's count in one statement, then the owner check and the
  status read model's row in another: no Temporal call), the same with a session
  cookie (session lookup instead of the token's); also ``GET /v1/apps``.

Each side runs twice, interleaved; the best run of each counts. The ratios are
authenticated requests/s over /healthz requests/s (target for the status route:
0.8, issue 20). /healthz checks PostgreSQL per request but Temporal at most once a
second; the list ratio prices authentication and rate limiting alone.

Then the sustained run, against a second ``mb api`` whose rate limit is real
(``--load-limit`` requests a minute per user): for ``--load-seconds``, 50 users
poll their own apps' status in rotation (16 connections, each user well under
the limit) while one user floods the list route (4 connections, far over it).
It fails unless there is no 5xx at all, every user request succeeds, and the
flooder got at most the limit per started minute of the run (the limiter's window
slides: no 60 s span admits more), 429 for everything else, and the shared
limiter holds no more than the limit for the flooder (its table is read back).
"""

from __future__ import annotations

import argparse
import asyncio
import math
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from temporalio.client import Client

from bench import mb_env, stack_settings
from cli.endpoints import Endpoints
from cli.stack import backends
from schemas.deployment import AppWorkflowInput
from schemas.settings import Settings
from store.apps import AppRepository
from store.db import Database
from store.sessions import SessionStore
from store.tokens import TokenRepository
from temporal import names
from temporal.devserver import free_loopback_port
from workers.main import run_workers

APP = "bench-app"
STATUS_SCRIPT = Path(__file__).with_name("wrk_statuses.lua")


@dataclass
class WrkRun:
    """What one wrk run measured."""

    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    non_2xx: int
    statuses: dict[int, int] = field(default_factory=dict)

    def count(self, low: int, high: int) -> int:
        """Responses with a status in [low, high)."""
        return sum(n for code, n in self.statuses.items() if low <= code < high)


def _wrk(
    url: str,
    seconds: float,
    headers: dict[str, str],
    *,
    connections: int = 16,
    threads: int = 2,
    targets: Path | None = None,
) -> WrkRun:
    """One wrk run; with ``targets`` (lines of "token path"), rotate over them and
    tally the statuses through ``wrk_statuses.lua``."""
    args = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds:.0f}s", "--latency"]
    for name, value in headers.items():
        args += ["-H", f"{name}: {value}"]
    if targets is not None:
        args += ["-s", str(STATUS_SCRIPT), url, "--", str(targets)]
    else:
        args.append(url)
    out = subprocess.run(args, capture_output=True, text=True, check=True).stdout

    def latency(label: str) -> float:
        m = re.search(rf"^\s+{label}\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        assert m, out
        scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]
        return float(m.group(1)) * scale

    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    done = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    statuses = {int(c): int(n) for c, n in re.findall(r"^status (\d+) (\d+)$", out, re.M)}
    return WrkRun(
        rps, latency("50%"), latency("99%"), done, int(bad.group(1)) if bad else 0, statuses
    )


class ApiProcess:
    """One ``mb api`` process on a loopback port, against the bench's backends."""

    def __init__(self, settings: Settings, endpoints: Endpoints, limit: int, log: Path) -> None:
        self.port = free_loopback_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = log
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "cli.main", "api"],
            env=mb_env(
                settings.data_path,
                temporal_address=endpoints.temporal_target,
                database_url=endpoints.database_url,
                api_port=str(self.port),
                rate_limit_per_minute=str(limit),
            ),
            stdout=subprocess.DEVNULL,
            stderr=log.open("wb"),
        )

    async def wait_ready(self, path: str, headers: dict[str, str]) -> None:
        """Until ``path`` answers 2xx (the API is up and the app's workflow answers)."""
        async with httpx.AsyncClient(timeout=10) as http:
            for _ in range(300):
                try:
                    if (await http.get(f"{self.base}{path}", headers=headers)).is_success:
                        return
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
        raise RuntimeError(f"the API never answered {path}: {self.log.read_text()[-2000:]}")

    async def stop(self) -> None:
        """SIGTERM, and wait (without blocking the loop: this process's worker answers
        the queries of requests the API is still finishing)."""
        self.proc.terminate()
        await asyncio.to_thread(self.proc.wait, 30)


async def _user_with_app(client: Client, db: Database, user: str, app: str | None) -> str:
    """A user (and, if named, an app of theirs with its AppWorkflow); their bearer token."""
    tokens = TokenRepository(db)
    await tokens.ensure_user(user, user)
    if app is not None:
        await AppRepository(db).ensure(app, user)
        await client.start_workflow(
            names.APP_WORKFLOW_TYPE,
            AppWorkflowInput(app_id=app, owner_id=user),
            id=names.app_workflow_id(app),
            task_queue=names.PIPELINE_TASK_QUEUE,
        )
    return await tokens.issue(user)


async def ratios(
    client: Client, db: Database, settings: Settings, endpoints: Endpoints, seconds: float
) -> dict[str, WrkRun]:
    """Short interleaved wrk runs per route, without refusing anyone (the ratios)."""
    token = await _user_with_app(client, db, "bench", APP)
    session = await SessionStore(
        db, idle_timeout=timedelta(hours=1), absolute_timeout=timedelta(hours=2)
    ).create("bench", client_ip=None, user_agent="wrk")
    # counted on every request, never refusing:
    api = ApiProcess(settings, endpoints, 10_000_000, settings.data_path / "api.log")
    try:
        auth = {"Authorization": f"Bearer {token}"}
        cookie = {"Cookie": f"mb_session={session.session_id}"}
        await api.wait_ready(f"/v1/apps/{APP}", auth)
        runs: dict[str, list[WrkRun]] = {"health": [], "auth": [], "list": [], "session": []}
        for _ in range(2):
            for name, path, headers in (
                ("list", "/v1/apps", auth),
                ("health", "/healthz", {}),
                ("auth", f"/v1/apps/{APP}", auth),
                ("session", f"/v1/apps/{APP}", cookie),
            ):
                runs[name].append(await asyncio.to_thread(_wrk, api.base + path, seconds, headers))
    finally:
        await api.stop()
    best = {k: max(v, key=lambda r: r.rps) for k, v in runs.items()}
    for name, run in best.items():
        print(
            f"{name:<7} {run.rps:8.0f} req/s  p50 {run.p50_ms:6.2f} ms"
            f"  p99 {run.p99_ms:6.2f} ms  non-2xx {run.non_2xx}"
        )
    if any(r.non_2xx for r in best.values()):
        print(api.log.read_text()[-3000:])
    assert all(r.non_2xx == 0 for r in best.values()), "errors under load"
    return best


async def sustained(
    client: Client,
    db: Database,
    settings: Settings,
    endpoints: Endpoints,
    *,
    seconds: float,
    users: int,
    limit: int,
) -> tuple[WrkRun, WrkRun, int, int]:
    """``users`` users each polling their own app's status, and one user flooding the
    list route, at once for ``seconds``, with the rate limit at ``limit`` a minute.

    Returns the users' run, the flooder's, the requests the shared limiter's table
    holds for the flooder at the end (admitted in its last minute), and how many
    60 s spans cover the run.
    """
    lines = []
    for i in range(users):
        app = f"load-app-{i}"
        lines.append(f"{await _user_with_app(client, db, f'load-{i}', app)} /v1/apps/{app}")
    flood_token = await _user_with_app(client, db, "flood", None)
    root = settings.data_path
    (root / "users.txt").write_text("\n".join(lines) + "\n")
    (root / "flood.txt").write_text(f"{flood_token} /v1/apps\n")
    api = ApiProcess(settings, endpoints, limit, root / "api-limited.log")
    try:
        first = lines[0].split()
        await api.wait_ready(first[1], {"Authorization": f"Bearer {first[0]}"})
        begin = datetime.now(UTC)
        normal, flood = await asyncio.gather(
            asyncio.to_thread(
                _wrk, api.base, seconds, {}, connections=16, targets=root / "users.txt"
            ),
            asyncio.to_thread(
                _wrk, api.base, seconds, {}, connections=4, threads=1, targets=root / "flood.txt"
            ),
        )
    finally:
        await api.stop()
    async with db.connection() as conn:
        row = await (
            await conn.execute(
                "SELECT (SELECT coalesce(sum(c), 0) FROM unnest(counts) AS c) AS kept"
                " FROM rate_limits WHERE key = 'user:flood'"
            )
        ).fetchone()
    if normal.count(500, 600) or flood.count(500, 600):
        print(api.log.read_text()[-3000:])
    spans = math.ceil((datetime.now(UTC) - begin).total_seconds() / 60)
    return normal, flood, int(row["kept"]) if row else 0, spans


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8, help="each short run")
    parser.add_argument("--load-seconds", type=float, default=60, help="the sustained run")
    parser.add_argument("--load-users", type=int, default=50)
    parser.add_argument("--load-limit", type=int, default=3000, help="requests/min per user")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is missing: apt-get install wrk")
    root = Path(tempfile.mkdtemp(prefix="mb-bench-api-"))
    root.chmod(0o755)
    settings = stack_settings(root / "data")
    stop = asyncio.Event()
    try:
        async with backends(settings) as (client, db, endpoints):
            workers = asyncio.create_task(run_workers(client, settings, db, stop))
            try:
                best = await ratios(client, db, settings, endpoints, args.seconds)
                normal, flood, flood_kept, windows = await sustained(
                    client,
                    db,
                    settings,
                    endpoints,
                    seconds=args.load_seconds,
                    users=args.load_users,
                    limit=args.load_limit,
                )
            finally:
                stop.set()
                await workers
    finally:
        shutil.rmtree(root, ignore_errors=True)

    print(f"api_healthz_rps: {best['health'].rps:.0f}")
    print(f"api_status_rps: {best['auth'].rps:.0f}")
    print(f"api_status_p50_ms: {best['auth'].p50_ms:.2f}")
    print(f"api_status_p99_ms: {best['auth'].p99_ms:.2f}")
    print(f"api_list_rps: {best['list'].rps:.0f}")
    print(f"api_session_status_rps: {best['session'].rps:.0f}")
    print(f"api_auth_vs_healthz_ratio: {best['auth'].rps / best['health'].rps:.2f}")
    print(f"api_session_vs_healthz_ratio: {best['session'].rps / best['health'].rps:.2f}")
    # The cost of authentication + rate limiting alone (the list needs no Temporal):
    print(f"api_list_vs_healthz_ratio: {best['list'].rps / best['health'].rps:.2f}")

    admitted, refused = flood.count(200, 300), flood.count(429, 430)
    allowed = args.load_limit * windows
    print(
        f"sustained {args.load_seconds:.0f} s: {args.load_users} users {normal.rps:.0f} req/s"
        f" p99 {normal.p99_ms:.1f} ms statuses {normal.statuses};"
        f" flooder {flood.rps:.0f} req/s statuses {flood.statuses},"
        f" {flood_kept} held by the limiter, {windows} span(s) of 60 s at {args.load_limit}"
    )
    held = (
        admitted <= allowed
        and refused > 0
        and admitted + refused == flood.requests
        and flood_kept <= args.load_limit
        and normal.count(200, 300) == normal.requests
    )
    errors_5xx = normal.count(500, 600) + flood.count(500, 600)
    print(f"api_load_seconds: {args.load_seconds:.0f}")
    print(f"api_load_users: {args.load_users}")
    print(f"api_load_rps: {normal.rps:.0f}")
    print(f"api_load_p99_ms: {normal.p99_ms:.1f}")
    print(f"api_load_5xx: {errors_5xx}")
    print(f"api_load_flood_admitted: {admitted}")
    print(f"api_load_flood_allowed: {allowed}")
    print(f"api_load_flood_refused_429: {refused}")
    print(f"api_load_rate_limit_held: {'yes' if held else 'no'}")
    if errors_5xx or not held:
        raise SystemExit(1)


if __name__ == "__main__":
    asyncio.run(main())

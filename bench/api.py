"""The cost of authentication, rate limiting and owner checks on the HTTP API.

    .venv/bin/python -m bench.api [--seconds N]

One run starts the real stack (Temporal dev server, embedded PostgreSQL, a
worker in this process, the API as its own ``mb api`` process) and drives it
with wrk from Debian over loopback:

- baseline: ``GET /healthz`` (unauthenticated; it checks PostgreSQL and Temporal);
- measured: ``GET /v1/apps/{app}`` with a bearer token (token lookup, the
  shared rate limiter's upsert, the owner check, the AppWorkflow's status query,
  coalesced across concurrent requests), the same with a session cookie (session
  lookup instead of the token's); also ``GET /v1/apps`` (no Temporal).

Each side runs twice, interleaved; the best run of each counts. The ratios are
authenticated requests/s over /healthz requests/s (target: at least 0.5). /healthz
checks PostgreSQL per request but Temporal at most once a second, so the status
ratio also prices the AppWorkflow query; the list ratio prices authentication
and rate limiting alone.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import subprocess
import sys
import tempfile
from datetime import timedelta
from pathlib import Path

import httpx

from cli.stack import backends
from schemas.deployment import AppWorkflowInput
from schemas.settings import Settings
from store.apps import AppRepository
from store.sessions import SessionStore
from store.tokens import TokenRepository
from temporal import names
from temporal.devserver import free_loopback_port
from workers.main import run_workers

APP = "bench-app"


def _wrk(url: str, seconds: int, headers: dict[str, str]) -> tuple[float, float, float, int]:
    """(requests/s, p50 ms, p99 ms, non-2xx) from one wrk run."""
    args = ["wrk", "-t2", "-c16", f"-d{seconds}s", "--latency"]
    for name, value in headers.items():
        args += ["-H", f"{name}: {value}"]
    out = subprocess.run([*args, url], capture_output=True, text=True, check=True).stdout

    def latency(label: str) -> float:
        m = re.search(rf"^\s+{label}\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        assert m, out
        scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]
        return float(m.group(1)) * scale

    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return rps, latency("50%"), latency("99%"), int(bad.group(1)) if bad else 0


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=8)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is missing: apt-get install wrk")
    root = Path(tempfile.mkdtemp(prefix="mb-bench-api-"))
    root.chmod(0o755)
    settings = Settings(
        data_dir=root / "data",
        temporal_port=free_loopback_port(),
        temporal_ui_port=free_loopback_port(),
        rate_limit_per_minute=10_000_000,  # counted on every request, never refusing
    )
    stop = asyncio.Event()
    api: subprocess.Popen[bytes] | None = None
    try:
        async with backends(settings) as (client, db, endpoints):
            workers = asyncio.create_task(run_workers(client, settings, db, stop))
            tokens = TokenRepository(db)
            await tokens.ensure_user("bench", "bench")
            token = await tokens.issue("bench")
            session = await SessionStore(
                db, idle_timeout=timedelta(hours=1), absolute_timeout=timedelta(hours=2)
            ).create("bench", client_ip=None, user_agent="wrk")
            await AppRepository(db).ensure(APP, "bench")
            await client.start_workflow(
                names.APP_WORKFLOW_TYPE,
                AppWorkflowInput(app_id=APP, owner_id="bench"),
                id=names.app_workflow_id(APP),
                task_queue=names.PIPELINE_TASK_QUEUE,
            )
            port = free_loopback_port()
            env = {k: v for k, v in os.environ.items() if not k.startswith("MB_")}
            env.update(
                MB_DATA_DIR=str(settings.data_path),
                MB_TEMPORAL_ADDRESS=endpoints.temporal_target,
                MB_DATABASE_URL=endpoints.database_url,
                MB_API_PORT=str(port),
                MB_RATE_LIMIT_PER_MINUTE=str(settings.rate_limit_per_minute),
            )
            api = subprocess.Popen(  # noqa: ASYNC220 - one server for the whole run
                [sys.executable, "-m", "cli.main", "api"],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=(root / "api.log").open("wb"),
            )
            base = f"http://127.0.0.1:{port}"
            auth = {"Authorization": f"Bearer {token}"}
            cookie = {"Cookie": f"mb_session={session.session_id}"}
            async with httpx.AsyncClient(timeout=10) as http:
                for _ in range(300):
                    try:
                        if (await http.get(f"{base}/v1/apps/{APP}", headers=auth)).is_success:
                            break
                    except httpx.TransportError:
                        pass
                    await asyncio.sleep(0.1)
            results: dict[str, list[tuple[float, float, float, int]]] = {
                "health": [],
                "auth": [],
                "list": [],
                "session": [],
            }
            for _ in range(2):
                results["list"].append(
                    await asyncio.to_thread(_wrk, f"{base}/v1/apps", args.seconds, auth)
                )
                results["health"].append(
                    await asyncio.to_thread(_wrk, f"{base}/healthz", args.seconds, {})
                )
                results["auth"].append(
                    await asyncio.to_thread(_wrk, f"{base}/v1/apps/{APP}", args.seconds, auth)
                )
                results["session"].append(
                    await asyncio.to_thread(_wrk, f"{base}/v1/apps/{APP}", args.seconds, cookie)
                )
            stop.set()
            await workers
        best = {k: max(v, key=lambda r: r[0]) for k, v in results.items()}
        for name, (rps, p50, p99, bad) in best.items():
            print(
                f"{name:<7} {rps:8.0f} req/s  p50 {p50:6.2f} ms  p99 {p99:6.2f} ms  non-2xx {bad}"
            )
        if any(r[3] for r in best.values()):
            print((root / "api.log").read_text()[-3000:])
        assert all(r[3] == 0 for r in best.values()), "errors under load"
        print(f"api_healthz_rps: {best['health'][0]:.0f}")
        print(f"api_status_rps: {best['auth'][0]:.0f}")
        print(f"api_status_p50_ms: {best['auth'][1]:.2f}")
        print(f"api_status_p99_ms: {best['auth'][2]:.2f}")
        print(f"api_list_rps: {best['list'][0]:.0f}")
        print(f"api_session_status_rps: {best['session'][0]:.0f}")
        print(f"api_auth_vs_healthz_ratio: {best['auth'][0] / best['health'][0]:.2f}")
        print(f"api_session_vs_healthz_ratio: {best['session'][0] / best['health'][0]:.2f}")
        # The cost of authentication + rate limiting alone (the list needs no Temporal):
        print(f"api_list_vs_healthz_ratio: {best['list'][0] / best['health'][0]:.2f}")
    finally:
        if api is not None:
            api.terminate()
            api.wait(timeout=20)
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(main())

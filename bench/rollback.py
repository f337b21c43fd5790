"""Rollback and deploy switch through the gateway, on each runtime, under a steady load.

For each runtime (bubblewrap sandbox, Docker containers) this runs ``mb up`` on a
fresh data directory, deploys release 1 and then release 2 of an app while a
client polls the app through the gateway without pause, then sends the
``rollback`` signal. Reported per runtime:

- rollback: the signal → the first gateway answer from release 1 (target < 2 s);
- deploy switch: release 2's start + health check + traffic switch stages;
- requests that failed during the deploy and the rollback (target 0).

Needs a Docker Engine (``make docker-daemon``); takes a few minutes (two QA gates
per runtime). Loopback only.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from temporalio.client import Client

from bench import ADVISORY_SNAPSHOT
from pipeline.operations import app_status, deployment_status, request_rollback
from schemas.deployment import RollbackRequest, Stage
from schemas.settings import Settings
from temporal.client import connect
from temporal.devserver import free_loopback_port

APP = "bench-rollback"
FIRST, SECOND = "a todo list for my climbing team", "a todo list for my bouldering gym"
SWITCH_STAGES = (Stage.DEPLOYING, Stage.HEALTH_CHECKING, Stage.SWITCHING)


@dataclass
class Load:
    """A client polling the app through the gateway; what answered, and when."""

    apps: httpx.AsyncClient
    answers: list[tuple[float, str]] = field(default_factory=list)
    failed: int = 0
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    awaited: tuple[str, float] | None = None
    """(release, since): set ``arrived`` at its first answer after ``since``."""
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def run(self) -> None:
        while not self.stop.is_set():
            try:
                response = await self.apps.get(f"/apps/{APP}/")
                if response.status_code != 200:
                    self.failed += 1
                    continue
                which = "2" if "Bouldering" in response.text else "1"
                now = time.perf_counter()
                self.answers.append((now, which))
                awaited = self.awaited
                if awaited is not None and which == awaited[0] and now >= awaited[1]:
                    self.arrived.set()
            except httpx.HTTPError:
                self.failed += 1

    def first(self, which: str, after: float) -> float:
        return next(t for t, w in self.answers if w == which and t >= after)


def _start_up(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """``mb up`` in a session of its own, its output in ``log``."""
    return subprocess.Popen(
        [sys.executable, "-m", "cli.main", "up"],
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


async def _wait_live(client: Client, version: int, within: float = 300) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        status = await app_status(client, APP)
        if status.live is not None and status.live.version == version:
            return
        await asyncio.sleep(0.2)
    raise TimeoutError(f"release {version} never went live")


async def measure(runtime: str) -> dict[str, float]:
    """One runtime's figures, on a stack of its own."""
    data = Path(tempfile.mkdtemp(prefix=f"mb-bench-rb-{runtime}-"))
    data.chmod(0o755)
    ports = {
        name: free_loopback_port() for name in ("TEMPORAL", "TEMPORAL_UI", "API", "CODEC", "APPS")
    }
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("MB_")},
        "MB_DATA_DIR": str(data),
        "MB_RUNTIME": runtime,
        "MB_BACKUPS": "false",
        "MB_OIDC_DEV_PORT": str(free_loopback_port()),
        **{f"MB_{name}_PORT": str(port) for name, port in ports.items()},
    }
    env["MB_ADVISORY_DB"] = os.environ.get("MB_ADVISORY_DB", str(ADVISORY_SNAPSHOT))
    log = data / "up.log"
    up = _start_up(env, log)
    try:
        deadline = time.monotonic() + 120
        while "MicroBuilder is up" not in log.read_text(errors="replace"):
            if up.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"mb up did not start:\n{log.read_text()[-2000:]}")
            await asyncio.sleep(0.2)
        settings = Settings(data_dir=data, temporal_port=ports["TEMPORAL"])
        client = await connect(settings, target=f"127.0.0.1:{ports['TEMPORAL']}")

        def deploy(prompt: str) -> None:  # `mb deploy` waits until the release is live
            done = subprocess.run(
                [sys.executable, "-m", "cli.main", "deploy", prompt, "--app", APP],
                env=env,
                capture_output=True,
                text=True,
                timeout=600,
            )
            if done.returncode != 0:
                raise RuntimeError(f"mb deploy failed: {done.stdout[-1500:]}{done.stderr[-500:]}")

        await asyncio.to_thread(deploy, FIRST)
        async with httpx.AsyncClient(
            base_url=f"http://{settings.apps_host}:{ports['APPS']}", timeout=30
        ) as apps:
            load = Load(apps)
            polling = asyncio.create_task(load.run())
            await asyncio.to_thread(deploy, SECOND)
            second = (await app_status(client, APP)).deployments[-1]
            timings = (await deployment_status(client, second.workflow_id)).timings
            switch_s = sum(t.seconds for t in timings if t.stage in SWITCH_STAGES)
            failed_deploy = load.failed
            await asyncio.sleep(1.0)
            began = time.perf_counter()
            load.awaited = ("1", began)
            await request_rollback(
                client,
                APP,
                RollbackRequest(request_id=uuid.uuid4().hex, requested_by="bench", reason="bench"),
            )
            await asyncio.wait_for(load.arrived.wait(), timeout=120)
            rollback_s = load.first("1", began) - began
            await _wait_live(client, 1)
            await asyncio.sleep(1.0)
            load.stop.set()
            await polling
        return {
            "rollback_s": rollback_s,
            "switch_s": switch_s,
            "failed_deploy": float(failed_deploy),
            "failed_rollback": float(load.failed - failed_deploy),
            "requests": float(len(load.answers) + load.failed),
        }
    finally:
        up.send_signal(signal.SIGINT)
        try:
            up.wait(timeout=120)
        except subprocess.TimeoutExpired:
            os.killpg(up.pid, signal.SIGKILL)
        shutil.rmtree(data, ignore_errors=True)


async def main() -> None:
    results = {runtime: await measure(runtime) for runtime in ("sandbox", "docker")}
    print(f"{'runtime':<9}{'rollback s':>11}{'switch s':>10}{'failed':>8}{'requests':>10}")
    for runtime, r in results.items():
        failed = int(r["failed_deploy"] + r["failed_rollback"])
        print(
            f"{runtime:<9}{r['rollback_s']:>11.2f}{r['switch_s']:>10.2f}"
            f"{failed:>8}{int(r['requests']):>10}"
        )
    for runtime, r in results.items():
        print(f"{runtime}_rollback_s: {r['rollback_s']:.2f}")
        print(f"{runtime}_deploy_switch_s: {r['switch_s']:.2f}")
        print(f"{runtime}_failed_requests: {int(r['failed_deploy'] + r['failed_rollback'])}")
    ratio = results["docker"]["rollback_s"] / results["sandbox"]["rollback_s"]
    print(f"docker_vs_sandbox_rollback_ratio: {ratio:.2f}")


if __name__ == "__main__":
    asyncio.run(main())

"""Instance start time on each runtime: start → first healthy answer through the unix
socket, for a bubblewrap sandbox and a Docker container of the same release, in
the same run (interleaved rounds, median each). The container's images are built
once first (that cold build is reported too); later starts, like a rollback to a
kept release, build nothing.

Needs a Docker Engine (``make docker-daemon``) and the base image
(``mb runtime build-base``, built here when missing).
"""

from __future__ import annotations

import asyncio
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import docker

from runtime.base import PythonEnv, Runtime
from runtime.docker import DockerRuntime
from runtime.docker_base import DEFAULT_BASE_IMAGE, build_base_image
from runtime.envs import EnvBuilder
from runtime.health import wait_healthy
from runtime.sandbox import SandboxRuntime
from runtime.uids import UidPool
from schemas.bundle import AppManifest
from store.bundles import make_bundle, write_bundle

ROUNDS = 7
MAIN = """
from fastapi import FastAPI

app = FastAPI()


@app.get("/health")
def health() -> dict:
    return {"ok": True}
"""
TEST = "def test_nothing():\n    assert True\n"


async def start_to_healthy(runtime: Runtime, bundle: Path, env: PythonEnv, app_id: str) -> float:
    """Seconds from start() to the first 200 on /health; the instance is stopped after."""
    began = time.perf_counter()
    info = await runtime.start(
        app_id=app_id,
        version=1,
        bundle_dir=bundle,
        env=env,
        manifest=AppManifest(),
    )
    health = await wait_healthy(info.socket_path, "/health", attempts=400, interval_s=0.02)
    elapsed = time.perf_counter() - began
    assert health.healthy, health
    await runtime.stop(info.instance_id, drain_s=0)
    return elapsed


async def main() -> None:
    client = docker.from_env()
    try:
        client.images.get(DEFAULT_BASE_IMAGE)
    except docker.errors.ImageNotFound:
        build_base_image(client, DEFAULT_BASE_IMAGE)
    root = Path(tempfile.mkdtemp(prefix="mb-bench-rt-"))
    root.chmod(0o755)
    try:
        env = await EnvBuilder(root / "envs").ensure("fastapi\n")
        bundle = write_bundle(
            make_bundle(
                {"main.py": MAIN, "requirements.txt": "fastapi\n", "tests/test_main.py": TEST}
            ),
            root / "bundle",
        )
        uids = UidPool(root / "uids", base=1_899_000_000, count=1024)
        sandbox = SandboxRuntime(
            root / "sbx", host="bench", uids=uids, memory_mb=256, pids=64, cpu=1.0
        )
        containers = DockerRuntime(
            root / "ctr", host="bench", uids=uids, memory_mb=256, pids=64, cpu=1.0
        )
        cold = await start_to_healthy(containers, bundle, env, "bench-cold")
        timings: dict[str, list[float]] = {"sandbox": [], "docker": []}
        for _ in range(ROUNDS):
            timings["sandbox"].append(await start_to_healthy(sandbox, bundle, env, "bench"))
            timings["docker"].append(await start_to_healthy(containers, bundle, env, "bench"))
        sbx, ctr = statistics.median(timings["sandbox"]), statistics.median(timings["docker"])
        print(f"{'runtime':<10}{'median s':>10}{'min s':>8}{'max s':>8}   ({ROUNDS} starts each)")
        for name, values in timings.items():
            print(
                f"{name:<10}{statistics.median(values):>10.2f}{min(values):>8.2f}"
                f"{max(values):>8.2f}"
            )
        print(f"first container start, images built: {cold:.2f} s")
        print(f"sandbox_start_s: {sbx:.2f}")
        print(f"container_start_s: {ctr:.2f}")
        print(f"container_cold_start_s: {cold:.2f}")
        print(f"container_vs_sandbox_start_ratio: {ctr / sbx:.2f}")
    finally:
        for image in client.images.list(name="mb-app-bench-cold") + client.images.list(
            name="mb-app-bench"
        ):
            client.images.remove(image.id, force=True)
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(main())

"""The real stack for integration tests: Temporal dev server, embedded PostgreSQL,
bubblewrap sandboxes, a worker in its own process (so it can be killed) and the API."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import uvicorn
from temporalio.client import Client
from temporalio.service import RPCError

from api.app import create_app
from api.gateway import create_gateway_app
from api.services import Services
from cli.stack import EmbeddedServer
from pipeline.operations import app_status, request_deployment, unanswered
from runtime.base import Runtime
from schemas.deployment import DeploymentOutcome, DeploymentSummary, DeployRequest
from schemas.operators import OPERATOR_CODEC_PATH
from schemas.settings import Settings
from store.apps import AppRepository
from store.base_backups import BackupCatalog
from store.db import Database
from store.embedded import EmbeddedPostgres
from store.tokens import TokenRepository
from temporal.client import connect
from temporal.devserver import DevServer, free_loopback_port
from temporal.search_attributes import ensure_search_attributes
from tests.snapshot import advisory_snapshot
from workers.wiring import app_runtime

pytestmark = pytest.mark.integration


@dataclass
class Stack:
    """Handles on every running part, and helpers to drive them."""

    settings: Settings
    env: dict[str, str]
    client: Client
    db: Database
    api: httpx.AsyncClient
    apps: httpx.AsyncClient  # the deployed apps' own origin (the gateway)
    data_dir: Path
    dev: DevServer  # stopped and started again by the fault tests
    pg: EmbeddedPostgres
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def start_worker(self) -> subprocess.Popen[bytes]:
        """A worker process; the first serves its metrics on ``settings.worker_metrics_port``,
        later ones (a killed worker's replacements) each on a port of their own."""
        log = (self.data_dir / "logs" / f"worker-{len(self.workers)}.log").open("ab")
        metrics = {} if not self.workers else {"MB_WORKER_METRICS_PORT": str(free_loopback_port())}
        proc = subprocess.Popen(
            [sys.executable, "-m", "cli.main", "worker"],
            env={**self.env, **metrics},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.workers.append(proc)
        return proc

    def kill_workers(self) -> None:
        for proc in self.workers:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()

    def mb(
        self, *args: str, timeout: float = 300, stdin: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run the real `mb` CLI against this stack."""
        return subprocess.run(
            [sys.executable, "-m", "cli.main", *args],
            env={**self.env, "COLUMNS": "200"},
            input=stdin if stdin is not None else "",
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    async def token(self) -> str:
        """An API token of the local user (the one `mb` deploys as)."""
        tokens = TokenRepository(self.db)
        await tokens.ensure_user("local", "Local user")
        return await tokens.issue("local")

    def runtime(self) -> Runtime:
        return app_runtime(self.settings)

    async def deploy(self, app_id: str, prompt: str) -> tuple[str, str]:
        """Ask for a deployment of ``prompt`` as the local user: (deployment id, workflow id)."""
        await AppRepository(self.db).ensure(app_id, "local")
        request = DeployRequest(request_id=uuid.uuid4().hex, owner_id="local", prompt=prompt)
        workflow_id = await request_deployment(self.client, app_id, request)
        return request.request_id, workflow_id

    async def finished(
        self, app_id: str, deployment_id: str, within: float = 240
    ) -> DeploymentSummary:
        """The deployment's summary once it has finished, whatever its outcome."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while loop.time() < deadline:
            try:
                status = await app_status(self.client, app_id)
            except RPCError as err:  # the server or the workers still recovering: ask again
                if not unanswered(err):
                    raise
                await asyncio.sleep(0.25)
                continue
            summary = next(d for d in status.deployments if d.deployment_id == deployment_id)
            if summary.finished_at is not None:
                return summary
            await asyncio.sleep(0.25)
        raise AssertionError(f"deployment {deployment_id} did not finish in {within} s")

    async def outcome(self, app_id: str, deployment_id: str, within: float = 240) -> str:
        """The message of a deployment that must go live."""
        summary = await self.finished(app_id, deployment_id, within)
        assert summary.outcome is DeploymentOutcome.LIVE, summary.message
        return summary.message

    async def page(self, app_id: str) -> str:
        """The live app's front page through the gateway (must answer 200)."""
        r = await self.apps.get(f"/apps/{app_id}/")
        assert r.status_code == 200, r.text
        return r.text


@pytest.fixture(scope="module")
async def stack() -> AsyncIterator[Stack]:
    """The whole stack, deploying into bubblewrap sandboxes (one per test module)."""
    async with running_stack() as stack:
        yield stack


@contextlib.asynccontextmanager
async def running_stack(
    runtime_kind: str = "sandbox",
    worker_env: dict[str, str] | None = None,
    *,
    root_worker: bool = True,
) -> AsyncIterator[Stack]:
    """Start every part; ``worker_env`` adds settings for the worker processes only;
    without ``root_worker`` no worker starts (the test brings its own runtime hosts)."""
    # Outside pytest's 0700 tmp tree: the sandbox user and PostgreSQL's user traverse it.
    data_dir = Path(tempfile.mkdtemp(prefix="mb-it-"))
    data_dir.chmod(0o755)
    (data_dir / "logs").mkdir()
    backups = BackupCatalog(data_dir / "backups")  # the stack archives WAL, as in production
    backups.prepare()
    pg = EmbeddedPostgres(data_dir / "postgres", archive_dir=backups.wal_dir)
    database_url = await pg.start()
    # The UI decodes through the operators' origin (tests/integration/test_operator_ui.py
    # serves it on this port); the worker serves its metrics on a port of its own.
    operator_port, worker_metrics_port = free_loopback_port(), free_loopback_port()
    dev = DevServer(
        data_dir / "temporal.sqlite",
        data_dir / "logs" / "temporal.log",
        port=free_loopback_port(),
        ui_port=free_loopback_port(),
        codec_endpoint=f"http://127.0.0.1:{operator_port}{OPERATOR_CODEC_PATH}",
    )
    await dev.start()
    api_port, apps_port = free_loopback_port(), free_loopback_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("MB_")},
        "MB_DATA_DIR": str(data_dir),
        "MB_TEMPORAL_ADDRESS": dev.target,
        "MB_DATABASE_URL": database_url,
        "MB_API_PORT": str(api_port),
        "MB_APPS_PORT": str(apps_port),
        "MB_WORKER_METRICS_PORT": str(worker_metrics_port),
        "MB_RUNTIME_HOST": "it-host",
        "MB_DRAIN_S": "0.2",
        "MB_ADVISORY_DB": str(advisory_snapshot()),
        "MB_BACKUP_DIR": str(backups.root),
        "MB_RUNTIME": runtime_kind,
        "PYTHONPATH": str(Path(__file__).parents[2]),
        **(worker_env or {}),
    }
    settings = Settings(
        advisory_db=advisory_snapshot(),
        data_dir=data_dir,
        temporal_address=dev.target,
        database_url=database_url,
        api_port=api_port,
        apps_port=apps_port,
        temporal_ui_port=dev.ui_port,
        operator_port=operator_port,
        worker_metrics_port=worker_metrics_port,
        runtime_host="it-host",
        drain_s=0.2,
        backup_dir=backups.root,
        runtime=runtime_kind,
    )
    db = Database(database_url)
    await db.open()
    await db.migrate()
    client = await connect(settings)
    await ensure_search_attributes(client)
    services = Services.build(settings, db, client)
    servers = [
        EmbeddedServer(uvicorn.Config(app, host=host, port=port, log_level="warning"))
        for app, host, port in (
            (create_app(services), "127.0.0.1", api_port),
            (create_gateway_app(services), settings.apps_host, apps_port),
        )
    ]
    serving = [asyncio.create_task(server.serve()) for server in servers]
    while not all(server.started for server in servers):
        await asyncio.sleep(0.05)
    api = httpx.AsyncClient(base_url=f"http://127.0.0.1:{api_port}", timeout=30)
    apps = httpx.AsyncClient(base_url=settings.apps_base_url, timeout=30)
    stack = Stack(
        settings=settings,
        env=env,
        client=client,
        db=db,
        api=api,
        apps=apps,
        data_dir=data_dir,
        dev=dev,
        pg=pg,
    )
    if root_worker:
        stack.start_worker()
    try:
        yield stack
    finally:
        stack.kill_workers()
        for log in sorted((data_dir / "logs").glob("*.log")):  # shown when a test failed
            print(f"--- {log.name} (tail) ---\n" + "\n".join(log.read_text().splitlines()[-40:]))
        runtime = stack.runtime()
        for instance in await runtime.instances():
            await runtime.stop(instance.instance_id, drain_s=0)
        await api.aclose()
        await apps.aclose()
        for server in servers:
            server.should_exit = True
        await asyncio.gather(*serving)
        await db.close()
        await dev.stop()
        await pg.stop()
        with contextlib.suppress(OSError):
            shutil.rmtree(data_dir)

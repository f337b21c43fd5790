"""Benchmarks: each script prints ratios against a baseline measured in the same run."""

import asyncio
import os
import shutil
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from temporalio.client import Client

from schemas.deployment import DeploymentResult
from schemas.settings import Settings
from store.db import Database
from store.embedded import EmbeddedPostgres
from temporal.devserver import free_loopback_port

ADVISORY_SNAPSHOT = Path(__file__).resolve().parents[2] / "shared" / "advisories" / "pypa" / "vulns"
"""The offline PyPA advisory snapshot next to the checkout (read in place, never copied)."""


def stack_settings(data_dir: Path, **overrides: Any) -> Settings:
    """Settings for an embedded stack under ``data_dir``, Temporal (and the workers'
    metrics) on free loopback ports."""
    return Settings(
        data_dir=data_dir,
        temporal_port=free_loopback_port(),
        temporal_ui_port=free_loopback_port(),
        worker_metrics_port=free_loopback_port(),
        **overrides,
    )


@asynccontextmanager
async def scratch_database(prefix: str) -> AsyncIterator[Database]:
    """A migrated database on an embedded PostgreSQL in a new temporary directory,
    stopped and removed afterwards."""
    root = Path(tempfile.mkdtemp(prefix=prefix))
    root.chmod(0o755)
    server = EmbeddedPostgres(root / "data")
    db = Database(await server.start(), max_size=10)
    try:
        await db.open()
        await db.migrate()
        yield db
    finally:
        await db.close()
        await server.stop()
        shutil.rmtree(root, ignore_errors=True)


def mb_env(data_dir: Path, **settings: str) -> dict[str, str]:
    """The environment of an ``mb`` subprocess: this one's without any ``MB_*`` variable,
    then ``MB_DATA_DIR`` and ``settings`` (``temporal_address="..."`` becomes
    ``MB_TEMPORAL_ADDRESS``)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MB_")}
    env["MB_DATA_DIR"] = str(data_dir)
    env.update({f"MB_{name.upper()}": value for name, value in settings.items()})
    return env


async def deployment_result(client: Client, workflow_id: str) -> DeploymentResult:
    """The result of a requested deployment (its workflow may not exist yet: the
    AppWorkflow starts it); raises if the deployment failed."""
    for _ in range(600):
        try:
            handle = client.get_workflow_handle(workflow_id, result_type=DeploymentResult)
            result: DeploymentResult = await handle.result()
            return result
        except Exception as err:
            if "not found" not in str(err).lower():
                raise
            await asyncio.sleep(0.05)
    raise RuntimeError(f"{workflow_id} never started")

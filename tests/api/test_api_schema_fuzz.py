"""Schemathesis against the running API's own OpenAPI schema (a real ``mb api`` process):
for every operation, generated requests (valid and invalid) get no 5xx, and every
response conforms to the schema (status codes, content types, bodies)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import oidc_provider_mock  # type: ignore[import-untyped]
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from psycopg.conninfo import make_conninfo
from schemathesis.core.result import Ok
from temporalio.testing import WorkflowEnvironment

from store.apps import AppRepository
from store.db import Database
from store.tokens import TokenRepository
from store.users import UserRepository
from temporal.devserver import free_loopback_port

EXAMPLES = 25


@pytest.fixture
async def running_api(
    db: Database, pg_uri: str, env: WorkflowEnvironment, tmp_path: Path
) -> AsyncIterator[tuple[str, str]]:
    async with db.connection() as conn:
        row = await (await conn.execute("SELECT current_database() AS d")).fetchone()
    assert row is not None
    tokens = TokenRepository(db)
    await tokens.ensure_user("fuzzer", "fuzzer")
    token = await tokens.issue("fuzzer")
    await AppRepository(db).ensure("fuzz-app", "fuzzer")
    # No worker runs here, so no pipeline may start: a workflow nobody serves answers its
    # queries with 503 (tests/api/test_api.py). Every deployment request is still validated.
    assert await UserRepository(db).suspend("fuzzer", "no worker runs in this test")
    port = free_loopback_port()
    # A real identity provider, so the login routes are fuzzed end to end too.
    provider = oidc_provider_mock.run_server_in_thread(require_nonce=True)
    server = provider.__enter__()
    child_env = {k: v for k, v in os.environ.items() if not k.startswith("MB_")}
    child_env.update(
        MB_DATA_DIR=str(tmp_path / "data"),
        MB_DATABASE_URL=make_conninfo(pg_uri, dbname=row["d"]),
        MB_TEMPORAL_ADDRESS=env.client.service_client.config.target_host,
        MB_API_PORT=str(port),
        MB_METRICS_PORT=str(free_loopback_port()),
        MB_RATE_LIMIT_PER_MINUTE="1000000",
        MB_LOGIN_ATTEMPTS_PER_MINUTE="1000000",
        MB_OIDC_ISSUER=f"http://localhost:{server.server_port}",
        MB_OIDC_CLIENT_SECRET="fuzz-secret",
        PYTHONPATH=str(Path(__file__).parents[2]),
    )
    log = (tmp_path / "api.log").open("wb")
    proc = subprocess.Popen(  # noqa: ASYNC220 - one server for the test
        [sys.executable, "-m", "cli.main", "api"], env=child_env, stdout=log, stderr=log
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            httpx.get(url + "/healthz", timeout=2)  # noqa: ASYNC210 - start-up only
            break
        except httpx.TransportError:
            time.sleep(0.1)  # noqa: ASYNC251
    try:
        yield url, token
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        log.close()
        provider.__exit__(None, None, None)


def test_every_operation_answers_within_its_schema(
    running_api: tuple[str, str], tmp_path: Path
) -> None:
    url, token = running_api
    schema = schemathesis.openapi.from_url(url + "/openapi.json")
    auth = {"Authorization": f"Bearer {token}"}
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        if not isinstance(result, Ok):
            failures.append(f"an operation of the schema is invalid: {result.err()}")
            continue
        operation = result.ok()
        if not operation.path.startswith("/v1"):
            continue
        operations += 1

        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy())
        def check(case: Any) -> None:
            if "app_id" in (case.path_parameters or {}) and case.path_parameters["app_id"] == "":
                return
            response = case.call(base_url=url, headers=auth, timeout=30)
            if response.status_code >= 500:
                failures.append(f"{case.method} {case.formatted_path}: {response.status_code}")
                return
            try:
                case.validate_response(
                    response,
                    checks=[
                        schemathesis.checks.not_a_server_error,
                        schemathesis.checks.status_code_conformance,
                        schemathesis.checks.content_type_conformance,
                        schemathesis.checks.response_schema_conformance,
                    ],
                )
            except (Exception, BaseExceptionGroup) as exc:  # names what did not conform
                failures.append(f"{case.method} {case.formatted_path}: {exc}"[:500])

        check()
    assert operations >= 10
    assert failures == [], "\n".join(failures[:20])

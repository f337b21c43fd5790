"""The HTTP servers' metrics (API, apps gateway): requests by route template and status,
latency histograms, rate-limit refusals and audit failures, served as Prometheus text on
their own loopback port and read back with prometheus_client's parser. No label carries
what a client typed: an email in a path, a token, an app id."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from api.gateway import create_gateway_app
from api.services import Services
from cli.stack import metrics_server
from schemas.settings import Settings
from store.db import Database
from store.tokens import TokenRepository
from temporal.devserver import free_loopback_port

EMAIL = "nina.smith@example.com"


@pytest.fixture
async def services(db: Database, env: WorkflowEnvironment, tmp_path: Path) -> Services:
    settings = Settings(
        data_dir=tmp_path / "data", rate_limit_per_minute=5, metrics_port=free_loopback_port()
    )
    return Services.build(settings, db, env.client)


@pytest.fixture
async def endpoint(services: Services) -> AsyncIterator[str]:
    """The metrics endpoint, as `mb up` serves it: plain HTTP on loopback."""
    server = metrics_server(services.metrics, services.settings)
    serving = asyncio.create_task(server.serve())
    while not server.started:
        assert not serving.done(), "the metrics endpoint did not start"
        await asyncio.sleep(0.02)
    yield f"http://{services.settings.metrics_host}:{services.settings.metrics_port}/metrics"
    server.should_exit = True
    await serving


async def _families(url: str) -> dict[str, list[tuple[str, dict[str, str], float]]]:
    async with httpx.AsyncClient() as http:
        answer = await http.get(url)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain; version=0.0.4")
    return {
        family.name: [(s.name, s.labels, s.value) for s in family.samples]
        for family in text_string_to_metric_families(answer.text)
    }


def _value(samples: list[tuple[str, dict[str, str], float]], name: str, **labels: str) -> float:
    return sum(
        v for n, got, v in samples if n == name and all(got.get(k) == w for k, w in labels.items())
    )


async def test_requests_are_counted_by_route_template_status_and_server(
    services: Services, endpoint: str
) -> None:
    tokens = TokenRepository(services.db)
    await tokens.ensure_user("alice", "Alice")
    token = await tokens.issue("alice")
    api = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(services)), base_url="http://api"
    )
    apps = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_gateway_app(services)), base_url="http://apps"
    )
    async with api, apps:
        ok = await api.get("/v1/apps", headers={"Authorization": f"Bearer {token}"})
        assert ok.status_code == 200
        missing = await api.get(
            f"/v1/apps/{EMAIL.replace('@', '-at-').replace('.', '-')}",
            headers={"Authorization": f"Bearer {token}"},
        )
        assert missing.status_code == 404
        assert (await api.get(f"/nothing/{EMAIL}")).status_code == 404
        assert (await apps.get("/apps/nina-smith-wedding/")).status_code == 404
        anonymous = [(await api.get("/v1/apps")).status_code for _ in range(7)]
        assert anonymous[:5] == [401] * 5 and anonymous[5:] == [429, 429]

    seen = await _families(endpoint)
    labels = json.dumps([labels for samples in seen.values() for _, labels, _ in samples])
    for personal in (EMAIL, "nina", token, "alice"):
        assert personal not in labels, personal
    requests = seen["mb_http_requests"]
    assert _value(requests, "mb_http_requests_total", route="/v1/apps", status="200") == 1
    assert _value(requests, "mb_http_requests_total", route="/v1/apps/{app_id}", status="404") == 1
    assert _value(requests, "mb_http_requests_total", route="unmatched", status="404") == 1
    assert _value(requests, "mb_http_requests_total", route="/v1/apps", status="429") == 2
    assert (
        _value(
            requests,
            "mb_http_requests_total",
            server="gateway",
            route="/apps/{app_id}/{path:path}",
            status="404",
        )
        == 1
    )
    durations = seen["mb_http_request_duration_seconds"]
    assert _value(durations, "mb_http_request_duration_seconds_count", server="api") == 10
    assert _value(seen["mb_rate_limit_refusals"], "mb_rate_limit_refusals_total", limit="ip") == 2
    assert "process_resident_memory_bytes" in seen


async def test_an_audit_row_that_cannot_be_written_is_counted(
    services: Services, endpoint: str
) -> None:
    """The first refusal of a rate limit is audited: with the audit log gone, the request
    is refused (503) and the failure counted."""
    api = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(services)), base_url="http://api"
    )
    async with services.db.connection() as conn:
        await conn.execute("ALTER TABLE audit_log RENAME TO audit_log_gone")
    try:
        async with api:
            answers = [(await api.get("/v1/apps")).status_code for _ in range(6)]
        assert answers[-1] == 503
    finally:
        async with services.db.connection() as conn:
            await conn.execute("ALTER TABLE audit_log_gone RENAME TO audit_log")
    seen = await _families(endpoint)
    failures = seen["mb_audit_write_failures"]
    assert _value(failures, "mb_audit_write_failures_total", server="api") == 1

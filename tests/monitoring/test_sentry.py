"""Sentry end to end: the real SDK sends envelopes to an HTTP endpoint on loopback.

Failures arrive tagged (workflow, run, app, stage); no envelope ever contains a
planted secret value, token, cookie, prompt or generated code.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import sentry_sdk
import uvicorn
from starlette.requests import Request
from starlette.responses import Response
from temporalio.client import WorkflowFailureError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from monitoring.scrub import scrub_event
from monitoring.sentry import init_sentry
from monitoring.temporal_sentry import SentryInterceptor, sandbox_runner
from schemas.settings import Settings
from store.sensitive_values import SCRUBBED, SENSITIVE
from temporal.devserver import free_loopback_port
from tests.monitoring.probe import (
    CODE,
    PROMPT,
    SECRET,
    TOKEN,
    DeployIn,
    SentryProbe,
    failing_generate,
)


@dataclass
class Inbox:
    """What the loopback endpoint received: one entry per envelope item (JSON)."""

    items: list[dict[str, Any]] = field(default_factory=list)
    raw: list[bytes] = field(default_factory=list)

    def events(self) -> list[dict[str, Any]]:
        return [i for i in self.items if "exception" in i or "message" in i]


def _inbox_app(inbox: Inbox) -> Any:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        request = Request(scope, receive)
        body = await request.body()
        if request.headers.get("content-encoding") == "gzip":
            body = gzip.decompress(body)
        inbox.raw.append(body)
        for line in body.split(b"\n"):
            try:
                item = json.loads(line)
            except ValueError:
                continue
            if isinstance(item, dict):
                inbox.items.append(item)
        await Response("{}", media_type="application/json")(scope, receive, send)

    return app


@pytest.fixture
async def inbox(tmp_path: Path) -> AsyncIterator[Inbox]:
    received = Inbox()
    port = free_loopback_port()
    server = uvicorn.Server(
        uvicorn.Config(_inbox_app(received), host="127.0.0.1", port=port, log_level="warning")
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
    settings = Settings(
        data_dir=tmp_path / "data",
        sentry_dsn=f"http://publickey@127.0.0.1:{port}/1",
        sentry_environment="test",
    )
    assert init_sentry(settings, "worker")
    try:
        yield received
    finally:
        await asyncio.to_thread(sentry_sdk.flush, 5)
        await asyncio.to_thread(sentry_sdk.get_client().close, 2)
        # No DSN and no integrations: nothing patched or sent for the rest of the session.
        sentry_sdk.init(default_integrations=False)
        server.should_exit = True
        await task


async def _flush_until(inbox: Inbox, count: int) -> list[dict[str, Any]]:
    """Flush from a thread: the inbox server runs on this event loop."""
    deadline = time.monotonic() + 10
    while len(inbox.events()) < count and time.monotonic() < deadline:
        await asyncio.to_thread(sentry_sdk.flush, 2)
        await asyncio.sleep(0.05)
    return inbox.events()


def _assert_clean(inbox: Inbox) -> None:
    everything = b"\n".join(inbox.raw).decode(errors="replace")
    for planted in (SECRET, TOKEN, PROMPT, CODE, "mb_session=", "PLANTED"):
        assert planted not in everything, planted


async def test_a_failed_activity_and_workflow_arrive_tagged_and_scrubbed(
    inbox: Inbox, env: WorkflowEnvironment
) -> None:
    SENSITIVE.add(SECRET)
    queue = f"sentry-{uuid.uuid4().hex[:6]}"
    workflow_id = f"deploy-shop-{uuid.uuid4().hex[:8]}"
    async with Worker(
        env.client,
        task_queue=queue,
        workflows=[SentryProbe],
        activities=[failing_generate],
        interceptors=[SentryInterceptor()],
        workflow_runner=sandbox_runner(),
    ):
        handle = await env.client.start_workflow(
            SentryProbe.run,
            DeployIn(app_id="shop", prompt=PROMPT),
            id=workflow_id,
            task_queue=queue,
        )
        with pytest.raises(WorkflowFailureError):
            await handle.result()
    events = await _flush_until(inbox, 2)
    kinds = {e["tags"]["temporal.kind"]: e["tags"] for e in events}
    assert set(kinds) == {"activity", "workflow"}
    act = kinds["activity"]
    assert act["temporal.workflow_id"] == workflow_id
    assert act["temporal.run_id"] == handle.result_run_id
    assert act["mb.app"] == "shop" and act["mb.stage"] == "generate_bundle_for_sentry"
    assert act["component"] == "worker"
    assert kinds["workflow"]["temporal.workflow_type"] == "SentryProbe"
    message = next(e for e in events if e["tags"]["temporal.kind"] == "activity")
    value = message["exception"]["values"][-1]["value"]
    assert "backend broke while generating for shop" in value and SCRUBBED in value
    _assert_clean(inbox)


async def test_an_api_error_carries_no_credentials_body_or_cookie(
    inbox: Inbox, db: Any, env: WorkflowEnvironment, tmp_path: Path
) -> None:
    from api.app import create_app
    from api.services import Services
    from store.tokens import TokenRepository

    services = Services.build(Settings(data_dir=tmp_path / "d"), db, env.client)
    tokens = TokenRepository(db)
    await tokens.ensure_user("alice", "alice")
    token = await tokens.issue("alice")

    async def broken(app_id: str, owner_id: str) -> None:
        # Fault injection: the store fails with a secret in its message.
        raise RuntimeError(f"store exploded holding {SECRET}")

    services.apps.ensure = broken  # type: ignore[method-assign]
    app = create_app(services)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, raise_app_exceptions=False),
        base_url="http://testserver",
    ) as http:
        r = await http.post(
            "/v1/apps/shop/deployments",
            json={"prompt": PROMPT},
            headers={"Authorization": f"Bearer {token}", "Cookie": f"mb_session={TOKEN}"},
        )
    assert r.status_code == 500
    (event,) = await _flush_until(inbox, 1)
    assert "store exploded holding" in json.dumps(event)
    assert event["request"]["headers"].get("authorization") in (None, SCRUBBED)
    _assert_clean(inbox)
    assert token not in b"\n".join(inbox.raw).decode()


def test_the_scrubber_replaces_what_it_must_and_keeps_the_rest() -> None:
    SENSITIVE.add(SECRET)
    event = {
        "message": f"failed with {SECRET} and Bearer {TOKEN}",
        "request": {
            "data": {"prompt": PROMPT},
            "cookies": {"mb_session": "x"},
            "headers": {"Authorization": f"Bearer {TOKEN}", "X-CSRF-Token": "c", "Accept": "json"},
        },
        "extra": {"prompt": PROMPT, "generated_code": CODE, "status_code": 502, "app": "shop"},
        "exception": {
            "values": [
                {
                    "type": "RuntimeError",
                    "value": f"x {SECRET}",
                    "stacktrace": {"frames": [{"function": "f", "vars": {"value": SECRET}}]},
                }
            ]
        },
    }
    out = scrub_event(event)
    text = json.dumps(out)
    for planted in (SECRET, TOKEN, PROMPT, CODE):
        assert planted not in text
    assert out["extra"]["status_code"] == 502 and out["extra"]["app"] == "shop"
    assert out["request"]["headers"]["Accept"] == "json"
    assert out["exception"]["values"][0]["type"] == "RuntimeError"
    assert "vars" not in out["exception"]["values"][0]["stacktrace"]["frames"][0]


@pytest.fixture(autouse=True)
def _no_leftover_client() -> Iterator[None]:
    yield
    assert not sentry_sdk.get_client().is_active() or sentry_sdk.get_client().dsn is None


async def test_child_processes_inherit_no_tracing_variables(inbox: Inbox) -> None:
    # Sandboxed apps and QA tools are started as subprocesses: nothing of ours may leak,
    # not even from inside a sampled transaction (where the SDK would propagate a trace).
    with sentry_sdk.start_transaction(name="deploy", sampled=True):
        child = await asyncio.create_subprocess_exec(
            "env", stdout=asyncio.subprocess.PIPE, env={"PATH": "/usr/bin:/bin"}
        )
        out, _ = await child.communicate()
    assert out.decode().split() == ["PATH=/usr/bin:/bin"]

"""Operators in the Temporal UI, in headless Chromium, on the real stack.

A real deployment runs through the real pipeline (Temporal dev server and its UI,
PostgreSQL, sandboxed QA, the worker in its own process). In front of the dev server's
UI stands the operators' origin, with the API, the development OIDC provider and the
metrics endpoint served as ``mb up`` serves them. Then, in Debian's Chromium:

- an operator logs in through the provider and reads the deployment's prompt decoded
  on its workflow page (no codec error), finds the stage, the QA verdict and the QA
  report, downloads the history and replays it with ``mb replay --file``, and sends
  the app a rollback signal from the UI;
- a signed-in non-operator sees a 403 page and no prompt, and cannot decode with their
  session; an anonymous visitor is at the login page;
- pages of other origins (a deployed app's site, and another port of the operators'
  host, whose requests carry the session cookie) cannot make the browser decode or act.

Every page is held to loopback. A failing test leaves a screenshot in its tmp
directory (named in the failure).
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
import uvicorn
from google.protobuf import json_format
from playwright.async_api import Browser, Page
from prometheus_client.parser import text_string_to_metric_families
from starlette.types import ASGIApp, Receive, Scope, Send
from temporalio.api.common.v1 import Payloads
from temporalio.client import Client

from api.app import create_app
from api.services import Services
from api.tls import server_config
from cli.dev_identity import dev_identity_provider
from cli.stack import metrics_server, operator_app
from pipeline.operations import app_status
from schemas.settings import Settings
from store.audit import AuditLog
from store.outbox import MailOutbox
from store.users import User, UserRepository
from temporal import names
from temporal.devserver import free_loopback_port
from tests.api.login_flow import dev_login_in_browser, query_of, verification_link
from tests.browser import loopback_only, screenshot_on_failure
from tests.integration.conftest import Stack, running_stack
from tests.servers import serve

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

APP = "kayak-club-todo"
PROMPT = "a todo list for our kayak club"
OPERATOR = "ops@example.com"
VISITOR = "nina@example.com"
CODEC_ERROR = "Codec Server could not connect"


@dataclass
class Operators:
    """The real stack, and the operators' origin, API and login in front of it."""

    stack: Stack
    settings: Settings
    services: Services
    operator: User
    visitor: User
    deployment_id: str
    workflow_id: str

    @property
    def origin(self) -> str:
        return self.settings.operator_base_url

    async def audit(self, action: str, actor: str) -> list[str]:
        rows = await AuditLog(self.stack.db).search(action=action, actor=actor, limit=1000)
        return [r.outcome for r in rows]

    async def prompt_payload(self) -> str:
        """The deployment's input as stored (encrypted), in the codec protocol's JSON."""
        plain = await Client.connect(self.stack.settings.temporal_target)
        history = await plain.get_workflow_handle(self.workflow_id).fetch_history()
        started = history.events[0].workflow_execution_started_event_attributes
        return json_format.MessageToJson(Payloads(payloads=started.input.payloads))


async def _verified(services: Services, user: User) -> None:
    assert user.email is not None
    await services.verifier.issue(user)
    link = await verification_link(MailOutbox(services.db), user.email)
    outcome, _ = await services.verifier.confirm(query_of(link)["token"])
    assert outcome.value == "verified", outcome


@pytest.fixture(scope="module")
async def operators() -> AsyncIterator[Operators]:
    async with running_stack() as stack:
        base = stack.settings.model_copy(
            update={
                "api_port": free_loopback_port(),
                "oidc_dev_port": free_loopback_port(),
                "metrics_port": free_loopback_port(),
                "rate_limit_per_minute": 10_000,
            }
        )
        configured, identity = dev_identity_provider(base)
        assert identity is not None and configured.oidc_issuer is not None
        users = UserRepository(stack.db)
        # Both have logged in before (so the operator's id can be listed) and verified.
        operator = await users.from_login(configured.oidc_issuer, OPERATOR, OPERATOR)
        visitor = await users.from_login(configured.oidc_issuer, VISITOR, VISITOR)
        settings = configured.model_copy(update={"operator_ids": f"local,{operator.id}"})
        services = Services.build(settings, stack.db, stack.client)
        for user in (operator, visitor):
            await _verified(services, user)
        async with AsyncExitStack() as servers:
            await serve(servers, identity.server_config())
            api = create_app(services)
            await serve(
                servers, server_config(api, settings, port=settings.api_port, log_level="warning")
            )
            await serve(
                servers,
                server_config(
                    operator_app(services),
                    settings,
                    port=settings.operator_port,
                    log_level="warning",
                    lifespan="on",
                ),
            )
            await serve(servers, metrics_server(services.metrics, settings).config)
            deployment_id, workflow_id = await stack.deploy(APP, PROMPT)
            await stack.outcome(APP, deployment_id)
            yield Operators(
                stack, settings, services, operator, visitor, deployment_id, workflow_id
            )


async def _log_in(page: Page, operators: Operators, who: str, url: str) -> None:
    """Open ``url`` on the operators' origin; our login comes first, then the page."""
    await page.goto(url)
    assert urlsplit(page.url).port == operators.settings.oidc_dev_port, page.url
    await dev_login_in_browser(page, who)
    await page.wait_for_url(url)


async def test_an_operator_logs_in_and_reads_the_deployment_decoded(
    operators: Operators, chromium: Browser, tmp_path: Path
) -> None:
    settings, stack = operators.settings, operators.stack
    context = await chromium.new_context(accept_downloads=True)
    page = await context.new_page()
    elsewhere = await loopback_only(page)
    url = settings.workflow_ui_url(operators.workflow_id)
    async with screenshot_on_failure(page, tmp_path):
        await _log_in(page, operators, OPERATOR, url)
        await page.get_by_text(PROMPT).first.wait_for()
        assert CODEC_ERROR not in await page.inner_text("body")
        decodes = await operators.audit("payload.decode", operators.operator.id)
        assert decodes and set(decodes) == {"ok"}

        # On call: the stage, the QA verdict and the report, from the deployment's page.
        await page.get_by_role("tab", name="Search Attributes").click()
        await page.get_by_text('"MbStage": "live"').first.wait_for()
        await page.get_by_role("tab", name="Memo").click()
        await page.get_by_text('"verdict": "pass"').first.wait_for()
        await page.get_by_role("tab", name="User Metadata").click()
        link = page.frame_locator("iframe[src*='reports']").get_by_role("link")
        async with context.expect_page() as opened:
            await link.click()
        report = await opened.value
        await report.wait_for_load_state()
        assert report.url == f"{operators.origin}/mb/reports/{operators.deployment_id}"
        assert "Mutation testing" in await report.inner_text("body")
        await report.close()
        assert await operators.audit("qa.report.read", operators.operator.id) == ["ok"]

        # Download this history (encoded: what replayers read), then `mb replay --file` it.
        await page.get_by_role("tab", name="Event History").click()
        await page.get_by_role("button", name="Download").click()
        dialog = page.get_by_role("dialog").filter(has_text="Download Event History JSON")
        async with page.expect_download() as downloading:
            await dialog.get_by_role("button", name="Download").click()
        history = tmp_path / "history.json"
        await (await downloading.value).save_as(history)
        replayed = await asyncio.to_thread(stack.mb, "replay", "--file", str(history))
        assert replayed.returncode == 0, replayed.stdout + replayed.stderr
        assert "1 histories replayed, 0 failed" in replayed.stdout

        # Send the rollback signal from the app's workflow page (encoded by our codec).
        await page.goto(settings.workflow_ui_url(names.app_workflow_id(APP)))
        await page.get_by_role("button", name="More Actions").click()
        await page.get_by_role("menuitem", name="Send a Signal").click()
        dialog = page.get_by_role("dialog").filter(has_text="Send a Signal")
        await dialog.get_by_test_id("signal-select-button").click()
        await dialog.locator("#signal-select-select").get_by_text("rollback", exact=True).click()
        request_id = f"ui-{uuid.uuid4().hex[:12]}"
        signal = {"request_id": request_id, "requested_by": "ops", "reason": "from the UI"}
        await dialog.locator(".cm-content").fill(json.dumps(signal))
        await dialog.get_by_role("button", name="Submit").click()
        for _ in range(200):
            rollbacks = (await app_status(stack.client, APP)).rollbacks
            if any(r.request_id == request_id for r in rollbacks):
                break
            await asyncio.sleep(0.1)
        (done,) = [r for r in rollbacks if r.request_id == request_id]
        assert done.message == "there is no previous release to roll back to"  # v1 only
        assert await operators.audit("temporal.ui.action", operators.operator.id) == ["ok"]
    assert elsewhere == []


async def test_a_non_operator_and_an_anonymous_visitor_read_nothing(
    operators: Operators, chromium: Browser, tmp_path: Path
) -> None:
    page = await chromium.new_page()
    elsewhere = await loopback_only(page)
    url = operators.settings.workflow_ui_url(operators.workflow_id)
    async with screenshot_on_failure(page, tmp_path):
        await page.goto(url)  # anonymous: the login page, nothing of the UI
        assert urlsplit(page.url).port == operators.settings.oidc_dev_port
        assert PROMPT not in await page.content()

        await dev_login_in_browser(page, VISITOR)
        await page.wait_for_url(url)
        body = await page.inner_text("body")
        assert "Operators only" in body and operators.visitor.id in body
        assert PROMPT not in await page.content()

        # The visitor's own session, from the origin itself, decodes nothing either.
        answer = await page.request.post(
            f"{operators.origin}/mb/codec/decode",
            headers={
                "Origin": operators.origin,
                "X-Namespace": operators.settings.temporal_namespace,
                "Content-Type": "application/json",
            },
            data=await operators.prompt_payload(),
        )
        assert answer.status == 403 and PROMPT not in await answer.text()
        assert await operators.audit("payload.decode", operators.visitor.id) == ["denied"]
    assert elsewhere == []


def _hostile_site(target: str, payload: str, signal_path: str) -> ASGIApp:
    """A page that tries, with the visitor's cookies, to decode and to send a signal on
    the operators' origin (fetches and a form), then reports what it could read."""
    attempts = f"""
      const target = {json.dumps(target)};
      const payload = {payload};
      const tries = [
        ["decode (cors)", "/mb/codec/decode", {{method: "POST", credentials: "include",
          headers: {{"X-Namespace": "default", "Content-Type": "application/json"}},
          body: JSON.stringify(payload)}}],
        ["decode (simple)", "/mb/codec/decode", {{method: "POST", mode: "no-cors",
          credentials: "include", headers: {{"Content-Type": "text/plain"}},
          body: JSON.stringify(payload)}}],
        ["signal (simple)", {json.dumps(signal_path)}, {{method: "POST", mode: "no-cors",
          credentials: "include", headers: {{"Content-Type": "text/plain"}},
          body: JSON.stringify({{input: payload}})}}],
      ];
      (async () => {{
        const seen = [];
        for (const [name, path, init] of tries) {{
          try {{
            const r = await fetch(target + path, init);
            seen.push([name, r.type, r.status, r.type === "opaque" ? "" : await r.text()]);
          }} catch (e) {{ seen.push([name, "error", 0, ""]); }}
        }}
        document.body.dataset.seen = JSON.stringify(seen);
        document.title = "tried";
      }})();
    """
    form = (
        f'<form method="post" action="{target}/mb/codec/decode" enctype="text/plain">'
        '<input name="x" value="y"></form><script>document.forms[0].submit()</script>'
    )

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        await receive()
        page = form if scope["path"] == "/form" else f"<script>{attempts}</script>"
        headers = [(b"content-type", b"text/html; charset=utf-8")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": f"<!doctype html>{page}".encode()})

    return app


def _answers(operators: Operators) -> dict[tuple[str, str, str], float]:
    """The operators' origin's requests so far, by (method, route, status)."""
    return {
        (s.labels["method"], s.labels["route"], s.labels["status"]): s.value
        for m in operators.services.metrics.requests.collect()
        for s in m.samples
        if s.name == "mb_http_requests_total" and s.labels["server"] == "operators"
    }


@pytest.mark.parametrize("host", ["127.0.0.2", "127.0.0.1"], ids=["apps-site", "same-site"])
async def test_a_page_of_another_origin_cannot_make_the_browser_decode_or_act(
    operators: Operators, chromium: Browser, tmp_path: Path, host: str
) -> None:
    """127.0.0.2 is another site (a deployed app's): the session cookie stays home.
    127.0.0.1 on another port is the same site: the cookie goes along, and only the
    Origin check stops the request, before anything runs as the operator."""
    context = await chromium.new_context()
    page = await context.new_page()
    elsewhere = await loopback_only(page)
    payload = await operators.prompt_payload()
    signal = f"/api/v1/namespaces/default/workflows/{names.app_workflow_id(APP)}/signal/rollback"
    port = free_loopback_port()
    async with screenshot_on_failure(page, tmp_path), AsyncExitStack() as servers:
        # Logged in on a page that sends nothing in the background (the report).
        report = f"{operators.origin}/mb/reports/{operators.deployment_id}"
        await _log_in(page, operators, OPERATOR, report)
        decodes = len(await operators.audit("payload.decode", operators.operator.id))
        actions = len(await operators.audit("temporal.ui.action", operators.operator.id))
        before = _answers(operators)
        app = _hostile_site(operators.origin, payload, signal)
        await serve(servers, uvicorn.Config(app, host=host, port=port, log_level="warning"))

        sent: list[str] = []
        page.on("request", lambda r: sent.append(f"{r.method} {r.url} {r.resource_type}"))
        await page.goto(f"http://{host}:{port}/")
        await page.wait_for_function("document.title === 'tried'")
        seen = json.loads(await page.evaluate("document.body.dataset.seen"))
        # Nothing readable: the CORS request fails its preflight, and the simple ones'
        # answers are withheld from the page (Cross-Origin-Resource-Policy: same-origin).
        assert [s[1] for s in seen] == ["error", "error", "error"], seen
        await page.goto(f"http://{host}:{port}/form")
        await page.wait_for_url(f"{operators.origin}/mb/codec/decode")
        assert PROMPT not in await page.content()

        after = _answers(operators)
        grew = {k: v - before.get(k, 0) for k, v in after.items() if v != before.get(k, 0)}
        # Every attempt reached the server and was refused there. (Playwright's request
        # routing answers CORS preflights itself, so even the CORS decode arrives, as it
        # would from a browser that skipped its preflight.)
        assert grew.get(("POST", "/mb/codec/decode", "403")) == 3, (grew, sent)
        assert grew.get(("POST", "/{path:path}", "403")) == 1, (grew, sent)
        assert len(await operators.audit("payload.decode", operators.operator.id)) == decodes
        assert len(await operators.audit("temporal.ui.action", operators.operator.id)) == actions
    assert elsewhere == []


async def test_the_workers_and_http_servers_metrics_parse_and_name_no_one(
    operators: Operators,
) -> None:
    settings, stack = operators.settings, operators.stack
    async with httpx.AsyncClient(timeout=10) as http:
        workers = await http.get(f"http://127.0.0.1:{stack.settings.worker_metrics_port}/metrics")
        servers = await http.get(f"http://{settings.metrics_host}:{settings.metrics_port}/metrics")
    for answer in (workers, servers):
        assert answer.status_code == 200
    worker_families = {f.name: f for f in text_string_to_metric_families(workers.text)}
    server_families = {f.name: f for f in text_string_to_metric_families(servers.text)}
    live = [
        s
        for s in worker_families["mb_deployments"].samples
        if s.name == "mb_deployments_total" and s.labels["outcome"] == "live"
    ]
    assert live and live[0].value >= 1
    assert {"temporal_workflow_task_schedule_to_start_latency", "temporal_num_pollers"} <= set(
        worker_families
    )
    assert {"mb_qa_stage_duration_seconds", "mb_moderation_verdicts"} <= set(worker_families)
    assert "mb_http_requests" in server_families
    for text in (workers.text, servers.text):
        for personal in (APP, PROMPT, OPERATOR, VISITOR, operators.operator.id):
            assert personal not in text, personal

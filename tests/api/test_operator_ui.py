"""The operators' origin, over HTTP in front of a real Temporal UI server: operators get
the UI and decode (audited first); anonymous visitors go to our login, other users get a
plain 403 and decode nothing; nothing that changes state is done for a request from
another origin; the UI's own security headers survive the proxy.

The browser's view of the same origin: tests/integration/test_operator_ui.py.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from temporalio.api.common.v1 import Payload

from api.operator_ui import create_operator_app
from api.services import Services
from api.tls import server_config
from schemas.qa import QAGateReport
from schemas.settings import Settings
from store.audit import AuditLog
from store.db import Database
from store.tokens import TokenRepository
from temporal.client import connect
from temporal.codec import EncryptionCodec, key_id_for
from temporal.devserver import DevServer, free_loopback_port
from tests.servers import serve

KEY = bytes(range(32))
CODEC = EncryptionCodec({key_id_for(KEY): KEY}, key_id_for(KEY), "default")
MARKER = b'{"prompt": "operator-origin-marker"}'
UI_PAGE_MARKER = "/_app/immutable/entry/start"  # the Temporal UI's index page loads it
NAVIGATE = {"Accept": "text/html", "Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document"}


@dataclass
class Origin:
    """The operators' origin on loopback, in front of a real dev server's UI."""

    settings: Settings
    services: Services
    http: httpx.AsyncClient  # no cookies of its own: each call names its session

    @property
    def url(self) -> str:
        return self.settings.operator_base_url

    async def session(self, user_id: str) -> dict[str, str]:
        """A live session of ``user_id`` (verified) as the browser's cookie header carries it."""
        await TokenRepository(self.services.db).ensure_user(user_id, user_id)
        new = await self.services.sessions.create(user_id, client_ip=None, user_agent=None)
        # the UI server's own CSRF cookie rides along, as in a browser
        return {"Cookie": f"_csrf=ui-token; mb_session={new.session_id}"}

    def same_origin(self) -> dict[str, str]:
        return {"Origin": self.url, "Sec-Fetch-Site": "same-origin"}

    async def decode(self, headers: dict[str, str]) -> httpx.Response:
        plain = Payload(metadata={"encoding": b"json/plain"}, data=MARKER)
        (sealed,) = await CODEC.encode([plain])
        body = {
            "payloads": [
                {
                    "metadata": {
                        k: base64.b64encode(v).decode() for k, v in sealed.metadata.items()
                    },
                    "data": base64.b64encode(sealed.data).decode(),
                }
            ]
        }
        return await self.http.post(
            "/mb/codec/decode?preserveStorageRefs=true",
            json=body,
            headers={"X-Namespace": "default", "X-Workflow-Id": "deploy-shop-1", **headers},
        )

    async def audit(self, action: str) -> list[tuple[str, str]]:
        rows = await AuditLog(self.services.db).search(action=action)
        return [(r.actor, r.outcome) for r in rows]


@pytest.fixture(scope="module")
async def ui(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[tuple[DevServer, int]]:
    """A real dev server whose UI points its codec at the operators' origin (port given)."""
    operator_port = free_loopback_port()
    root = tmp_path_factory.mktemp("ui")
    dev = DevServer(
        root / "temporal.sqlite",
        root / "temporal.log",
        port=free_loopback_port(),
        ui_port=free_loopback_port(),
        codec_endpoint=f"http://127.0.0.1:{operator_port}/mb/codec",
    )
    await dev.start()
    yield dev, operator_port
    await dev.stop()


@pytest.fixture
async def origin(db: Database, ui: tuple[DevServer, int], tmp_path: Path) -> AsyncIterator[Origin]:
    dev, operator_port = ui
    settings = Settings(
        data_dir=tmp_path / "data",
        temporal_address=dev.target,
        temporal_ui_port=dev.ui_port,
        operator_port=operator_port,
        operator_ids="ops,newcomer@example.com",
        rate_limit_per_minute=100_000,
    )
    services = Services.build(settings, db, await connect(settings))
    config = server_config(
        create_operator_app(services, {"default": CODEC}),
        settings,
        port=operator_port,
        log_level="warning",
        lifespan="on",
    )
    async with AsyncExitStack() as stack:
        await serve(stack, config)
        http = await stack.enter_async_context(
            httpx.AsyncClient(base_url=settings.operator_base_url, timeout=30)
        )
        yield Origin(settings, services, http)


async def test_anonymous_visitors_are_sent_to_our_login_and_decode_nothing(
    origin: Origin,
) -> None:
    page = "/namespaces/default/workflows/deploy-shop-1?tab=history"
    answer = await origin.http.get(page, headers=NAVIGATE)
    assert answer.status_code == 303
    login = urlsplit(answer.headers["location"])
    assert f"{login.scheme}://{login.netloc}{login.path}" == (
        f"{origin.settings.api_base_url}/v1/auth/login"
    )
    assert parse_qs(login.query)["return_to"] == [origin.url + page]

    fetched = await origin.http.get("/api/v1/settings")  # a script's fetch: no redirect
    assert fetched.status_code == 401 and "Codec" not in fetched.text
    refused = await origin.decode(origin.same_origin())
    assert refused.status_code == 401
    assert b"operator-origin-marker" not in refused.content
    assert await origin.audit("payload.decode") == []


async def test_a_non_operator_gets_a_plain_403_page_and_decodes_nothing(origin: Origin) -> None:
    alice = await origin.session("alice")
    page = await origin.http.get("/", headers={**NAVIGATE, **alice})
    assert page.status_code == 403
    assert "Operators only" in page.text and "<code>alice</code>" in page.text
    assert UI_PAGE_MARKER not in page.text
    assert page.headers["x-frame-options"] == "DENY"
    api = await origin.http.get("/api/v1/namespaces", headers=alice)
    assert api.status_code == 403 and "namespaces" not in api.json()
    refused = await origin.decode({**origin.same_origin(), **alice})
    assert refused.status_code == 403
    assert b"operator-origin-marker" not in refused.content
    assert await origin.audit("payload.decode") == [("alice", "denied")]


async def test_an_operator_whose_email_is_not_verified_decodes_nothing(origin: Origin) -> None:
    # MB_OPERATOR_IDS names the id, but the address behind it was never confirmed.
    async with origin.services.db.connection() as conn:
        await conn.execute(
            "INSERT INTO users (id, display_name, email) VALUES ('newcomer@example.com',"
            " 'n', 'newcomer@example.com')"
        )
    new = await origin.services.sessions.create(
        "newcomer@example.com", client_ip=None, user_agent=None
    )
    cookie = {"Cookie": f"mb_session={new.session_id}"}
    page = await origin.http.get("/", headers={**NAVIGATE, **cookie})
    assert page.status_code == 403 and "verify your email address" in page.text
    refused = await origin.decode({**origin.same_origin(), **cookie})
    assert refused.status_code == 403 and b"operator-origin-marker" not in refused.content


async def test_an_operator_gets_the_ui_and_decodes_on_its_own_origin(origin: Origin) -> None:
    ops = await origin.session("ops")
    page = await origin.http.get("/", headers={**NAVIGATE, **ops})
    assert page.status_code == 200 and UI_PAGE_MARKER in page.text
    policies = page.headers.get_list("content-security-policy")
    assert any("connect-src 'self'" in p and "frame-ancestors 'self'" in p for p in policies)
    assert page.headers["x-frame-options"] == "SAMEORIGIN"
    assert page.headers["cache-control"] == "no-store"
    assert "access-control-allow-origin" not in page.headers
    settings = (await origin.http.get("/api/v1/settings", headers=ops)).json()
    assert settings["Codec"]["Endpoint"] == origin.settings.operator_codec_url
    assert settings["Codec"]["IncludeCredentials"] is False  # same origin: no setting needed

    decoded = await origin.decode({**origin.same_origin(), **ops})
    assert decoded.status_code == 200, decoded.text
    (payload,) = decoded.json()["payloads"]
    assert base64.b64decode(payload["data"]) == MARKER
    assert decoded.headers["cache-control"] == "no-store"
    assert "access-control-allow-origin" not in decoded.headers
    (row,) = await AuditLog(origin.services.db).search(action="payload.decode")
    assert (row.actor, row.outcome, row.detail["workflow"]) == ("ops", "ok", "deploy-shop-1")


@pytest.mark.parametrize(
    "sent",
    [
        {},  # no Origin at all
        {"Origin": "http://127.0.0.2:8001"},  # a deployed app's site
        {"Origin": "http://127.0.0.1:8000"},  # the same site (cookies go there), another origin
        {"Origin": "null"},
        {"Origin": "{url}", "Sec-Fetch-Site": "same-site"},  # a forged Origin, told apart
    ],
)
async def test_nothing_changes_for_a_request_from_another_origin(
    origin: Origin, sent: dict[str, str]
) -> None:
    """SameSite=Lax keeps the cookie off cross-site posts; a page of the same site (another
    port of this host) would still send it, so the Origin decides, before anything runs."""
    headers = {k: v.replace("{url}", origin.url) for k, v in sent.items()}
    ops = await origin.session("ops")
    refused = await origin.decode({**headers, **ops})
    assert refused.status_code == 403, refused.text
    assert b"operator-origin-marker" not in refused.content
    terminate = await origin.http.post(
        "/api/v1/namespaces/default/workflows/deploy-shop-1/terminate",
        json={"reason": "csrf"},
        headers={**headers, **ops, "X-CSRF-Token": "ui-token"},
    )
    assert terminate.status_code == 403
    preflight = await origin.http.options(
        "/mb/codec/decode",
        headers={**headers, "Access-Control-Request-Method": "POST"},
    )
    assert "access-control-allow-origin" not in preflight.headers
    assert await origin.audit("payload.decode") == []
    assert await origin.audit("temporal.ui.action") == []


async def test_an_operators_ui_action_is_audited_before_it_is_forwarded(origin: Origin) -> None:
    ops = await origin.session("ops")
    answer = await origin.http.post(
        "/api/v1/namespaces/default/workflows/no-such-workflow/terminate",
        json={"reason": "by hand"},
        headers={**origin.same_origin(), **ops, "X-CSRF-Token": "ui-token"},
    )
    assert answer.status_code != 403, answer.text  # the UI server's own answer
    (row,) = await AuditLog(origin.services.db).search(action="temporal.ui.action")
    assert row.actor == "ops" and row.resource.endswith("/no-such-workflow/terminate")
    assert row.detail == {"method": "POST"}
    query = await origin.http.post(  # a query changes nothing: not audited
        "/api/v1/namespaces/default/workflows/no-such-workflow/query/status",
        json={},
        headers={**origin.same_origin(), **ops, "X-CSRF-Token": "ui-token"},
    )
    assert query.status_code != 403
    assert len(await origin.audit("temporal.ui.action")) == 1


async def test_nothing_is_decoded_or_done_when_the_audit_cannot_be_written(
    origin: Origin,
) -> None:
    ops = await origin.session("ops")
    async with origin.services.db.connection() as conn:
        await conn.execute("ALTER TABLE audit_log RENAME TO audit_log_gone")
    try:
        refused = await origin.decode({**origin.same_origin(), **ops})
        assert refused.status_code == 503
        assert b"operator-origin-marker" not in refused.content
        action = await origin.http.post(
            "/api/v1/namespaces/default/workflows/x/terminate",
            json={},
            headers={**origin.same_origin(), **ops, "X-CSRF-Token": "ui-token"},
        )
        assert action.status_code == 503
    finally:
        async with origin.services.db.connection() as conn:
            await conn.execute("ALTER TABLE audit_log_gone RENAME TO audit_log")
    scraped = (await _scrape(origin.services)).decode()
    families = {f.name: f for f in text_string_to_metric_families(scraped)}
    (sample,) = [
        s for s in families["mb_audit_write_failures"].samples if s.name.endswith("_total")
    ]
    assert sample.labels == {"server": "operators"} and sample.value == 2


async def test_operators_read_any_deployments_qa_report_audited(origin: Origin) -> None:
    services = origin.services
    report = QAGateReport(
        bundle_hash="b" * 64, deployment_id="dep-00000001", verdict="pass", stages=[]
    )
    digest = await services.artifacts.put("qa-report", report.model_dump_json().encode())
    await services.qa_reports.save_report(
        deployment_id="dep-00000001",
        app_id="tips-app",
        owner_id="alice",
        bundle_hash="b" * 64,
        verdict="pass",
        report_sha256=digest,
        summary="all stages passed",
    )
    ops = await origin.session("ops")
    page = await origin.http.get("/mb/reports/dep-00000001", headers={**NAVIGATE, **ops})
    assert page.status_code == 200 and "QA report of deployment dep-00000001" in page.text
    assert page.headers["content-security-policy"].startswith("default-src 'none'")
    assert await origin.audit("qa.report.read") == [("ops", "ok")]
    alice = await origin.session("alice")  # the owner, but not an operator: the API serves her
    other = await origin.http.get("/mb/reports/dep-00000001", headers={**NAVIGATE, **alice})
    assert other.status_code == 403 and "Verdict" not in other.text


async def test_links_to_our_pages_in_rendered_details_open_in_a_new_tab(origin: Origin) -> None:
    """The UI renders a workflow's details (markdown) in a sandboxed frame of its own
    origin, where a relative link would open inside the frame: ours become absolute, which
    the UI opens in a new tab. The frame keeps the UI's own sandboxing policy."""
    ops = await origin.session("ops")
    frame = await origin.http.get(
        "/render",
        params={"content": "[QA report](/mb/reports/dep-00000001) [docs](/namespaces)"},
        headers=ops,
    )
    assert frame.status_code == 200
    assert f'href="{origin.url}/mb/reports/dep-00000001" target="_blank"' in frame.text
    assert 'href="/namespaces"' in frame.text  # the UI's own links are left alone
    policies = frame.headers.get_list("content-security-policy")
    assert any("sandbox" in p for p in policies) and any(
        "connect-src 'self'" in p for p in policies
    )


async def _scrape(services: Services) -> bytes:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=services.metrics.asgi_app()),
        base_url="http://metrics",
    ) as http:
        answer = await http.get("/metrics")
    assert answer.status_code == 200
    return answer.content

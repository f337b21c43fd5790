"""On the real stack, with the worker's generator pointed at a chat-completions server on
127.0.0.1: the model's first bundle fails the real QA gate (bandit finds its ``eval``,
mutmut the mutants its weak tests let live); the model is given those findings and
answers with a sound bundle, which passes and goes live. Every attempt is shown by the
API, the HTML report and ``mb status``."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator

import pytest

from store.generation_repairs import GenerationRepairs
from store.qa_reports import QAReportRepository
from tests.activities.generation.chat_server import (
    API_KEY,
    MODEL,
    ChatServer,
    messages_text,
    serve_chat,
)
from tests.activities.generation.repair_bundles import (
    HOSTILE,
    carries_the_findings,
    fix_only_with_findings,
)
from tests.integration.conftest import Stack, running_stack

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

PROMPT = "split the bill at our team lunch, tip included"


def generator_env(chat: ChatServer) -> dict[str, str]:
    """Worker settings: generate (and repair) with the loopback model, moderate locally."""
    return {
        "MB_OPENAI_BASE_URL": chat.base_url,
        "MB_OPENAI_API_KEY": API_KEY,
        "MB_OPENAI_MODEL": MODEL,
        "MB_OPENAI_MODERATION": "false",
    }


@pytest.fixture(scope="module")
def chat() -> Iterator[ChatServer]:
    with serve_chat() as server:
        yield server


@pytest.fixture(scope="module")
async def stack(chat: ChatServer) -> AsyncIterator[Stack]:
    async with running_stack(worker_env=generator_env(chat)) as stack:
        yield stack


async def test_a_bundle_the_real_gate_fails_is_repaired_with_its_findings_and_goes_live(
    stack: Stack, chat: ChatServer
) -> None:
    chat.reset(fix_only_with_findings)
    auth = {"Authorization": f"Bearer {await stack.token()}"}
    accepted = await stack.api.post(
        "/v1/apps/tips-repair/deployments", json={"prompt": PROMPT}, headers=auth
    )
    assert accepted.status_code == 202, accepted.text
    deployment_id = accepted.json()["deployment_id"]
    await stack.outcome("tips-repair", deployment_id, within=420)
    health = await stack.apps.get("/apps/tips-repair/health")
    assert health.status_code == 200 and health.json() == {"status": "ok"}

    # The API shows both attempts: the generated bundle failed, the repair passed.
    shown = await stack.api.get(f"/v1/apps/tips-repair/deployments/{deployment_id}", headers=auth)
    assert shown.status_code == 200, shown.text
    attempts = shown.json()["status"]["attempts"]
    assert [(a["attempt"], a["verdict"]) for a in attempts] == [(1, "fail"), (2, "pass")]
    assert shown.json()["summary"]["attempts"] == attempts
    first = await stack.api.get(f"/v1/deployments/{deployment_id}/report?attempt=1", headers=auth)
    report = first.json()
    assert report["verdict"] == "fail" and report["bundle_hash"] == attempts[0]["bundle_hash"]
    stages = {s["stage"]: s for s in report["stages"]}
    assert stages["static"]["verdict"] == stages["mutation"]["verdict"] == "fail"
    assert "B307" in {f["test_id"] for f in stages["static"]["findings"]}
    survivors = [m for m in stages["mutation"]["survivors"] if m["status"] == "survived"]
    assert survivors and all(m["diff"] for m in survivors)

    # The model was asked twice; the second request carried the real gate's findings.
    generation, repair = chat.asked()
    assert not carries_the_findings(generation["json"]) and carries_the_findings(repair["json"])
    told = messages_text(repair)
    assert survivors[0]["diff"][:300] in told
    assert any(f"main.py:{f['line']} B307" in told for f in stages["static"]["findings"])
    assert API_KEY not in told

    # Each attempt keeps its bundle and report; one repair stored, one evidence, live.
    rows = await QAReportRepository(stack.db).reports(deployment_id)
    assert [(r.attempt, r.verdict) for r in rows] == [(1, "fail"), (2, "pass")]
    [kept] = await GenerationRepairs(stack.db).for_deployment("tips-repair", deployment_id)
    assert kept.bundle_hash == attempts[1]["bundle_hash"]
    verified = stack.mb("evidence", "verify", "tips-repair", "1")
    assert verified.returncode == 0, verified.stdout + verified.stderr

    # The HTML report lists the attempts and escapes what the generator wrote.
    page = await stack.api.get(
        f"/v1/deployments/{deployment_id}/report.html?attempt=1", headers=auth
    )
    assert page.status_code == 200 and "<h2>Attempts</h2>" in page.text
    assert '<a href="report.html?attempt=2">2</a>' in page.text
    assert HOSTILE not in page.text and "<script" not in page.text
    assert "&lt;script&gt;" in page.text  # the banner's markup, in a surviving mutant's diff

    # mb status lists the attempts too.
    status = stack.mb("status", "tips-repair")
    assert status.returncode == 0, status.stdout + status.stderr
    assert "repair attempts" in status.stdout
    assert attempts[0]["bundle_hash"][:12] in status.stdout
    assert attempts[1]["bundle_hash"][:12] in status.stdout
    as_json = json.loads(stack.mb("status", "tips-repair", "--json").stdout)
    assert [a["verdict"] for a in as_json["deployments"][-1]["attempts"]] == ["fail", "pass"]

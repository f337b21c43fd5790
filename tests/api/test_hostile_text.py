"""Control characters in what users write: refused with 422 and a reason (never echoing
the text), and nothing is created, stored or started (real PostgreSQL and Temporal's
time-skipping server)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from api.services import Services
from schemas.deployment import DeployRequest
from schemas.settings import Settings
from store.db import Database
from store.moderation_log import ModerationLog
from store.tokens import TokenRepository
from tests.workflows.pipeline_fakes import FakePipeline

SECRET_WORDS = "phishing kit for my bank"
BUNDLE = {
    "main.py": "from fastapi import FastAPI\napp = FastAPI()\n",
    "requirements.txt": "fastapi\n",
    "tests/test_main.py": "import main\n\ndef test_app():\n    assert main.app\n",
}


@pytest.fixture
async def http(
    db: Database, env: WorkflowEnvironment, workers: FakePipeline, tmp_path: Path
) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(data_dir=tmp_path / "data", rate_limit_per_minute=100_000)
    services = Services.build(settings, db, env.client)
    tokens = TokenRepository(db)
    await tokens.ensure_user("alice", "Alice")
    token = await tokens.issue("alice")
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(services)),
        base_url="http://testserver",
        headers={"Authorization": f"Bearer {token}"},
    ) as client:
        yield client


async def _nothing_exists(http: httpx.AsyncClient, db: Database, workers: FakePipeline) -> None:
    assert (await http.get("/v1/apps")).json() == []
    assert await ModerationLog(db).recent() == []
    assert workers.calls == []


@pytest.mark.parametrize(
    ("prompt", "code"),
    [
        (SECRET_WORDS + "\x00", "U+0000"),
        ("\x00".join(SECRET_WORDS), "U+0000"),
        ("a todo list\x1b[2J", "U+001B"),
        ("a todo list\x7f", "U+007F"),
        ("a todo list\x85", "U+0085"),
        ("a todo list \ud800", "U+D800"),
    ],
    ids=["trailing-nul", "nul-between-letters", "escape", "del", "c1", "lone-surrogate"],
)
@pytest.mark.reliability(
    "Hostile text",
    done="POST prompts with a NUL (at the end, between letters), an escape, DEL, a C1 control"
    " or a lone surrogate, and a bundle file with a NUL",
)
async def test_a_prompt_with_a_control_character_is_refused_and_nothing_starts(
    http: httpx.AsyncClient, db: Database, workers: FakePipeline, prompt: str, code: str
) -> None:
    """Each is refused with 422 naming the character (never echoing the text); no app,
    workflow, log entry or stored bundle is created."""
    # As JSON escapes (a lone surrogate has no UTF-8 form, but JSON can carry it).
    r = await http.post(
        "/v1/apps/hostile-app/deployments",
        content=json.dumps({"prompt": prompt}),
        headers={"content-type": "application/json"},
    )

    assert r.status_code == 422, r.text
    detail = r.json()["detail"]
    assert code in detail and "prompt" in detail
    assert "bank" not in detail and "Traceback" not in r.text
    await _nothing_exists(http, db, workers)


@pytest.mark.reliability(
    "Hostile text",
    done="POST prompts with a NUL (at the end, between letters), an escape, DEL, a C1 control"
    " or a lone surrogate, and a bundle file with a NUL",
)
async def test_a_bundle_file_with_a_control_character_is_refused_and_nothing_is_stored(
    http: httpx.AsyncClient, db: Database, workers: FakePipeline
) -> None:
    """Each is refused with 422 naming the character (never echoing the text); no app,
    workflow, log entry or stored bundle is created."""
    bundle = {**BUNDLE, "templates/index.html": "<h1>Sign in to your bank</h1>\x00<p>"}

    r = await http.post("/v1/apps/hostile-app/deployments", json={"bundle": bundle})

    assert r.status_code == 422, r.text
    assert "templates/index.html" in r.json()["detail"]
    assert "U+0000" in r.json()["detail"] and "bank" not in r.json()["detail"]
    await _nothing_exists(http, db, workers)
    async with db.connection() as conn:
        count = await (await conn.execute("SELECT count(*) AS n FROM artifacts")).fetchone()
    assert count is not None and count["n"] == 0


async def test_tab_newline_and_carriage_return_are_still_text(
    http: httpx.AsyncClient, workers: FakePipeline
) -> None:
    r = await http.post(
        "/v1/apps/plain-app/deployments", json={"prompt": "a todo list\r\n\twith tabs"}
    )

    assert r.status_code == 202, r.text


async def test_a_reason_with_a_control_character_is_refused(
    http: httpx.AsyncClient, workers: FakePipeline
) -> None:
    started = await http.post("/v1/apps/some-app/deployments", json={"prompt": "a todo list"})
    assert started.status_code == 202, started.text

    r = await http.post("/v1/apps/some-app/rollback", json={"reason": "oops\x00"})

    assert r.status_code == 422, r.text
    assert "reason" in r.json()["detail"] and "U+0000" in r.json()["detail"]


def test_the_signal_model_refuses_it_too() -> None:
    """A platform starting workflows directly gets the same rule (the workflow then refuses
    and records the signal instead of deploying it)."""
    with pytest.raises(ValueError, match="control character"):
        DeployRequest(request_id="r" * 16, owner_id="alice", prompt=SECRET_WORDS + "\x00")

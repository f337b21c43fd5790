"""The OpenAI-compatible generator against a real chat-completions server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import openai
import pytest
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.generation import GenerationError, generate_offline
from activities.generation.openai_backend import BUNDLE_SCHEMA, SYSTEM_PROMPT, generate_with_openai
from activities.generation_activities import GenerationActivities
from schemas.generation import GenerateInput
from store.artifacts import ArtifactStore
from store.bundle_cache import BundleCache
from store.bundles import write_bundle
from store.db import Database
from tests.bundle_env import bundle_env

API_KEY = "sk-test-0123456789abcdef"
MODEL = "gpt-test-mini"
PROMPT = "a todo list for my climbing team"


@dataclass
class FakeOpenAI:
    """What the fake endpoint answers next, and what it was asked."""

    port: int
    status: int = 200
    body: dict[str, Any] = field(default_factory=dict)
    requests: list[dict[str, Any]] = field(default_factory=list)

    def answer(
        self, content: str | None, *, refusal: str | None = None, finish_reason: str = "stop"
    ) -> None:
        self.status = 200
        self.body = {
            "id": "chatcmpl-test",
            "object": "chat.completion",
            "created": 1_700_000_000,
            "model": MODEL,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content, "refusal": refusal},
                    "finish_reason": finish_reason,
                }
            ],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
        }

    def answer_bundle(self, files: dict[str, str], name: str = "Climbing Team Todo") -> None:
        payload = {
            "name": name,
            "kind": "todo",
            "files": [{"path": p, "content": c} for p, c in files.items()],
        }
        self.answer(json.dumps(payload))


def _fake_app(state: FakeOpenAI) -> FastAPI:
    app = FastAPI()

    @app.post("/v1/chat/completions")
    async def completions(request: Request) -> JSONResponse:
        state.requests.append({"headers": dict(request.headers), "json": await request.json()})
        return JSONResponse(state.body, status_code=state.status)

    return app


@pytest.fixture(scope="module")
def server() -> Iterator[FakeOpenAI]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    state = FakeOpenAI(port=sock.getsockname()[1])
    uv = uvicorn.Server(uvicorn.Config(_fake_app(state), log_level="warning", lifespan="off"))
    thread = threading.Thread(target=uv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not uv.started and time.monotonic() < deadline:
        time.sleep(0.01)
    assert uv.started, "the fake OpenAI server did not start"
    yield state
    uv.should_exit = True
    thread.join(timeout=10)
    sock.close()


@pytest.fixture
def fake(server: FakeOpenAI) -> FakeOpenAI:
    server.requests.clear()
    server.answer(None)
    return server


def _client(port: int) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(api_key=API_KEY, base_url=f"http://127.0.0.1:{port}/v1", timeout=10)


def _todo_files() -> dict[str, str]:
    return {f.path: f.content for f in generate_offline(PROMPT).bundle.files}


async def test_happy_path_returns_a_bundle_whose_tests_pass(
    fake: FakeOpenAI, tmp_path: Path
) -> None:
    files = _todo_files()
    fake.answer_bundle(files)
    app = await generate_with_openai(PROMPT, client=_client(fake.port), model=MODEL)
    assert (app.name, app.kind) == ("Climbing Team Todo", "custom")
    assert {f.path: f.content for f in app.bundle.files} == files
    write_bundle(app.bundle, tmp_path / "bundle")
    result = await asyncio.to_thread(
        subprocess.run,
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-W",
            "ignore::DeprecationWarning",
        ],
        cwd=tmp_path / "bundle",
        env=bundle_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:]


async def test_request_carries_model_key_schema_and_prompt(fake: FakeOpenAI) -> None:
    fake.answer_bundle(_todo_files())
    await generate_with_openai(PROMPT, client=_client(fake.port), model=MODEL)
    [request] = fake.requests
    assert request["headers"]["authorization"] == f"Bearer {API_KEY}"
    body = request["json"]
    assert body["model"] == MODEL
    assert body["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "app_bundle", "strict": True, "schema": BUNDLE_SCHEMA},
    }
    assert body["messages"] == [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": PROMPT},
    ]


def test_the_schema_is_strict_everywhere() -> None:
    def objects(node: Any) -> Iterator[dict[str, Any]]:
        if isinstance(node, dict):
            if node.get("type") == "object":
                yield node
            for value in node.values():
                yield from objects(value)

    for obj in objects(BUNDLE_SCHEMA):
        assert obj["additionalProperties"] is False
        assert sorted(obj["required"]) == sorted(obj["properties"])


async def test_a_missing_manifest_is_written_from_the_name(fake: FakeOpenAI) -> None:
    files = {p: c for p, c in _todo_files().items() if p != "microapp.toml"}
    fake.answer_bundle(files, name='  Crag   "Crew"  ')
    app = await generate_with_openai(PROMPT, client=_client(fake.port), model=MODEL)
    assert app.name == 'Crag "Crew"'
    assert app.bundle.manifest.name == 'Crag "Crew"'
    assert app.bundle.manifest.health_path == "/health"


async def test_a_blank_name_falls_back_to_the_prompt(fake: FakeOpenAI) -> None:
    fake.answer_bundle(_todo_files(), name="   ")
    app = await generate_with_openai(PROMPT, client=_client(fake.port), model=MODEL)
    assert app.name == "Climbing Team Todo"


async def _expect_error(fake: FakeOpenAI, match: str) -> GenerationError:
    with pytest.raises(GenerationError, match=match) as caught:
        await generate_with_openai(PROMPT, client=_client(fake.port), model=MODEL)
    assert API_KEY not in str(caught.value)
    return caught.value


async def test_http_errors_fail_once_without_retry_or_key(fake: FakeOpenAI) -> None:
    fake.status, fake.body = (
        500,
        {"error": {"message": f"boom, key was {API_KEY}", "type": "server"}},
    )
    error = await _expect_error(fake, "HTTP 500")
    assert "[redacted]" in str(error)
    assert len(fake.requests) == 1


async def test_unreachable_endpoint(fake: FakeOpenAI) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    with pytest.raises(GenerationError, match="APIConnectionError"):
        await generate_with_openai(PROMPT, client=_client(closed_port), model=MODEL)


async def test_malformed_json_content(fake: FakeOpenAI) -> None:
    fake.answer('{"name": "x", "files": [')
    await _expect_error(fake, "not JSON")


async def test_schema_violations(fake: FakeOpenAI) -> None:
    fake.answer(json.dumps({"name": "x", "kind": "todo"}))
    await _expect_error(fake, "does not match the schema: files")
    fake.answer(json.dumps({"name": "x", "kind": "todo", "files": [], "extra": 1}))
    await _expect_error(fake, "does not match the schema")


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"../evil.py": "import os"}, "invalid: .*must not contain"),
        ({"/etc/passwd.py": "x"}, "invalid: .*normalised relative"),
        ({".hidden/x.py": "x"}, "invalid: .*hidden"),
    ],
)
async def test_unsafe_paths(fake: FakeOpenAI, change: dict[str, str], match: str) -> None:
    fake.answer_bundle(_todo_files() | change)
    await _expect_error(fake, match)


async def test_incomplete_bundles(fake: FakeOpenAI) -> None:
    files = _todo_files()
    fake.answer_bundle({p: c for p, c in files.items() if p != "main.py"})
    await _expect_error(fake, "missing main.py")
    fake.answer_bundle({p: c for p, c in files.items() if not p.startswith("tests/")})
    await _expect_error(fake, "no tests")
    fake.answer_bundle({p: c for p, c in files.items() if p != "requirements.txt"})
    await _expect_error(fake, "missing requirements.txt")


async def test_duplicate_paths(fake: FakeOpenAI) -> None:
    payload = {"name": "x", "kind": "todo", "files": [{"path": "main.py", "content": "a"}] * 2}
    fake.answer(json.dumps(payload))
    await _expect_error(fake, "duplicate paths")


async def test_refusal(fake: FakeOpenAI) -> None:
    fake.answer(None, refusal="I can't help with that.")
    await _expect_error(fake, "refused: I can't help with that.")


async def test_truncated_answer(fake: FakeOpenAI) -> None:
    fake.answer('{"name": "x"', finish_reason="length")
    await _expect_error(fake, "stopped early")


@pytest.mark.parametrize("attempt, final", [(1, False), (2, False), (3, True)])
async def test_the_llm_gets_three_attempts_then_generation_fails_for_good(
    fake: FakeOpenAI, tmp_path: Path, attempt: int, final: bool
) -> None:
    """The workflow retries generation for long (an artifact-store outage must not end a
    deployment); the LLM's own failures are marked final on the third attempt."""
    fake.answer('{"name": "x", "files": [')
    # Never opened: the bundle is not stored when generation fails.
    bundles = BundleCache(ArtifactStore(Database("postgresql:///unused")), tmp_path)
    env = ActivityEnvironment()
    env.info = dataclasses.replace(env.info, attempt=attempt)
    activities = GenerationActivities(bundles, _client(fake.port), MODEL)
    with pytest.raises(ApplicationError) as caught:
        await env.run(
            activities.generate_bundle,
            GenerateInput(prompt=PROMPT, app_id="climbing", deployment_id="d-1"),
        )
    assert caught.value.type == "GenerationError"
    assert caught.value.non_retryable is final

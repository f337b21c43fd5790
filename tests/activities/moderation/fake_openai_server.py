"""A real OpenAI-compatible moderation server (FastAPI) and helpers for its tests."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

API_KEY = "test-key-4d1f9c"

OPENAI_CATEGORIES = (
    "harassment",
    "harassment/threatening",
    "hate",
    "hate/threatening",
    "illicit",
    "illicit/violent",
    "self-harm",
    "self-harm/instructions",
    "self-harm/intent",
    "sexual",
    "sexual/minors",
    "violence",
    "violence/graphic",
)
"""The categories omni-moderation-latest answers with, as its API reference lists them
(written out here, not taken from the code under test)."""


def moderation_body(
    *,
    flagged: bool = False,
    scores: dict[str, float] | None = None,
    flags: dict[str, bool] | None = None,
) -> dict[str, Any]:
    """A /v1/moderations response in OpenAI's format (``results[0]``: ``flagged``,
    ``categories``, ``category_scores`` and ``category_applied_input_types`` per
    category); unspecified scores are tiny."""
    names = list(OPENAI_CATEGORIES)
    all_scores = dict.fromkeys(names, 0.0001) | (scores or {})
    all_flags = dict.fromkeys(names, False) | (flags or {})
    return {
        "id": "modr-test",
        "model": "omni-moderation-latest",
        "results": [
            {
                "flagged": flagged,
                "categories": all_flags,
                "category_scores": all_scores,
                "category_applied_input_types": {name: ["text"] for name in all_scores},
            }
        ],
    }


@dataclass
class Reply:
    """What the fake server answers to one prompt."""

    status: int = 200
    body: dict[str, Any] = field(default_factory=moderation_body)
    delay_s: float = 0.0


@dataclass
class Recorded:
    """One request the fake server received."""

    path: str
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class FakeModerationAPI:
    """State of the fake server: replies keyed by prompt, requests as received."""

    base_url: str = ""
    replies: dict[str, Reply] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)

    def reply(self, prompt: str, reply: Reply) -> None:
        self.replies[prompt] = reply

    def requests_for(self, prompt: str) -> list[Recorded]:
        return [request for request in self.requests if request.body.get("input") == prompt]


def _app(state: FakeModerationAPI) -> FastAPI:
    app = FastAPI()

    @app.post("/v1/moderations")
    async def moderations(request: Request) -> JSONResponse:
        body = await request.json()
        state.requests.append(Recorded(request.url.path, dict(request.headers), body))
        reply = state.replies.get(str(body.get("input")), Reply())
        if reply.delay_s:
            await asyncio.sleep(reply.delay_s)
        return JSONResponse(reply.body, status_code=reply.status)

    return app


@contextmanager
def serve_fake_openai() -> Iterator[FakeModerationAPI]:
    """Serve a fake moderation API with uvicorn in a thread on a free loopback port."""
    state = FakeModerationAPI()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    state.base_url = f"http://127.0.0.1:{sock.getsockname()[1]}/v1"
    config = uvicorn.Config(
        _app(state), log_level="warning", lifespan="off", timeout_graceful_shutdown=2
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                raise RuntimeError("fake OpenAI server did not start")
            time.sleep(0.01)
        yield state
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()

"""A chat-completions server on 127.0.0.1 for the generator's tests (real HTTP, no mocks).

It speaks the part of the OpenAI API the generator uses: ``POST /v1/chat/completions``
answers with one choice whose content the test's ``reply`` computes from the request,
and every request (headers and JSON body) is kept for the test to inspect. It runs
in a thread, so a worker in another process can reach it too.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

API_KEY = "sk-test-0123456789abcdef"
MODEL = "gpt-test-mini"

Reply = Callable[[dict[str, Any]], "str | tuple[int, dict[str, Any]]"]
"""Request body -> the answer's content (a JSON bundle), or (HTTP status, error body)."""


def bundle_answer(files: dict[str, str], name: str = "Tips") -> str:
    """The content of an answer holding ``files`` as the bundle schema wants it."""
    listed = [{"path": path, "content": content} for path, content in files.items()]
    return json.dumps({"name": name, "kind": "tips", "files": listed})


def messages_text(request: dict[str, Any]) -> str:
    """Everything the messages of a chat request say, joined."""
    return "\n".join(str(m.get("content", "")) for m in request["json"]["messages"])


@dataclass
class ChatServer:
    """Where the server listens, what it answers, and what it was asked."""

    port: int
    reply: Reply = lambda body: ""
    requests: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def asked(self) -> list[dict[str, Any]]:
        """A copy of the requests so far (the server thread appends to the list)."""
        with self.lock:
            return list(self.requests)

    def reset(self, reply: Reply) -> None:
        with self.lock:
            self.requests.clear()
            self.reply = reply


def _app(server: ChatServer) -> FastAPI:
    app = FastAPI()

    @app.post("/v1/chat/completions")
    async def completions(request: Request) -> JSONResponse:
        body = await request.json()
        with server.lock:
            server.requests.append({"headers": dict(request.headers), "json": body})
            reply = server.reply
        answer = reply(body)
        if isinstance(answer, tuple):
            status, error = answer
            return JSONResponse(error, status_code=status)
        return JSONResponse(
            {
                "id": f"chatcmpl-{len(server.requests)}",
                "object": "chat.completion",
                "created": 1_700_000_000,
                "model": body.get("model", MODEL),
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": answer, "refusal": None},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
            }
        )

    return app


@contextlib.contextmanager
def serve_chat() -> Iterator[ChatServer]:
    """Run the server on a free loopback port until the block ends."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    server = ChatServer(port=sock.getsockname()[1])
    uv = uvicorn.Server(uvicorn.Config(_app(server), log_level="warning", lifespan="off"))
    thread = threading.Thread(target=uv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not uv.started and time.monotonic() < deadline:
        time.sleep(0.01)
    assert uv.started, "the chat-completions server did not start"
    try:
        yield server
    finally:
        uv.should_exit = True
        thread.join(timeout=10)
        sock.close()

"""Our uvicorn servers started inside a test's event loop, stopped with its exit stack."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack

import uvicorn

from cli.stack import EmbeddedServer


async def serve(stack: AsyncExitStack, config: uvicorn.Config) -> None:
    """Start a server on ``config``, return once it listens; ``stack`` stops it."""
    server = EmbeddedServer(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        assert not task.done(), "a server did not start"
        await asyncio.sleep(0.02)

    async def stop() -> None:
        server.should_exit = True
        await task

    stack.push_async_callback(stop)

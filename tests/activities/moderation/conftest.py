"""Fixtures: a real OpenAI-compatible moderation server on 127.0.0.1 and a client for it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import openai
import pytest

from tests.activities.moderation.fake_openai_server import (
    API_KEY,
    FakeModerationAPI,
    serve_fake_openai,
)


@pytest.fixture(scope="session")
def fake_openai() -> Iterator[FakeModerationAPI]:
    """The fake server, started once per session on a random free loopback port."""
    with serve_fake_openai() as state:
        yield state


@pytest.fixture
async def openai_client(fake_openai: FakeModerationAPI) -> AsyncIterator[openai.AsyncOpenAI]:
    """A real OpenAI client pointed at the fake server, without client-side retries."""
    client = openai.AsyncOpenAI(base_url=fake_openai.base_url, api_key=API_KEY, max_retries=0)
    yield client
    await client.close()

"""An in-process API whose users each hold an operator-issued bearer token."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
from temporalio.client import Client

from api.app import create_app
from api.services import Services
from schemas.settings import Settings
from store.db import Database
from store.tokens import TokenRepository


@asynccontextmanager
async def bearer_api(
    db: Database, temporal: Client, data_dir: Path, users: tuple[str, ...], **settings: str
) -> AsyncIterator[tuple[httpx.AsyncClient, dict[str, dict[str, str]]]]:
    """The HTTP client and each user's ``Authorization`` header (rate limit out of the way)."""
    services = Services.build(
        Settings(data_dir=data_dir, rate_limit_per_minute=100_000, **settings),  # type: ignore[arg-type]
        db,
        temporal,
    )
    tokens = TokenRepository(db)
    auth = {}
    for user in users:
        await tokens.ensure_user(user, user)
        auth[user] = {"Authorization": f"Bearer {await tokens.issue(user)}"}
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(services)), base_url="http://testserver"
    ) as http:
        yield http, auth

"""Where the running stack is (from the environment, or from ``mb up``'s discovery file),
and the short-lived connections a command opens to it."""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from temporalio.client import Client

from schemas.settings import Settings
from store.db import Database
from temporal.client import connect


class StackNotRunning(RuntimeError):
    """Neither the environment nor a running ``mb up`` says where the services are."""


@dataclass(frozen=True)
class Endpoints:
    """How to reach Temporal and PostgreSQL."""

    temporal_target: str
    database_url: str


def discovery_file(settings: Settings) -> Path:
    """Written by ``mb up`` while it runs (no secrets: a unix-socket, trust-auth URI)."""
    return settings.data_path / "run" / "stack.json"


def write_discovery(settings: Settings, endpoints: Endpoints) -> None:
    """Record the endpoints of this ``mb up`` (owner-only permissions)."""
    path = discovery_file(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(
        json.dumps(
            {
                "temporal_target": endpoints.temporal_target,
                "database_url": endpoints.database_url,
                "pid": os.getpid(),
            }
        )
    )
    tmp.chmod(0o600)
    tmp.replace(path)


def remove_discovery(settings: Settings) -> None:
    """Forget the endpoints (``mb up`` is stopping)."""
    discovery_file(settings).unlink(missing_ok=True)


def resolve(settings: Settings) -> Endpoints:
    """Environment first (production), then a live ``mb up`` on this data directory."""
    if settings.temporal_address and settings.database_url:
        return Endpoints(settings.temporal_address, settings.database_url.get_secret_value())
    path = discovery_file(settings)
    try:
        data = json.loads(path.read_text())
        os.kill(int(data["pid"]), 0)
    except (OSError, ValueError, KeyError):
        raise StackNotRunning(
            f"no running stack for data directory {settings.data_path}: start it with `mb up` "
            "(or set MB_TEMPORAL_ADDRESS and MB_DATABASE_URL)"
        ) from None
    return Endpoints(
        settings.temporal_address or str(data["temporal_target"]),
        settings.database_url.get_secret_value()
        if settings.database_url
        else str(data["database_url"]),
    )


async def temporal(settings: Settings) -> Client:
    """A client for the stack's Temporal."""
    found = resolve(settings)
    return await connect(settings, target=found.temporal_target)


@asynccontextmanager
async def database(settings: Settings) -> AsyncIterator[Database]:
    """A small pool on the stack's PostgreSQL."""
    db = Database(resolve(settings).database_url, min_size=1, max_size=2)
    try:
        await db.open(timeout_s=10.0)  # a person is waiting: say the database is down sooner
    except BaseException:
        await db.close()  # stop the pool's reconnect attempts
        raise
    try:
        yield db
    finally:
        await db.close()

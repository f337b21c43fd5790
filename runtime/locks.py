"""An inter-process lock for async code (flock, polled so the event loop never blocks)."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
from collections.abc import AsyncIterator
from pathlib import Path


@contextlib.asynccontextmanager
async def file_lock(path: Path, *, poll_s: float = 0.05) -> AsyncIterator[None]:
    """Hold an exclusive lock on ``path`` (created 0600) for the duration of the block."""
    await asyncio.to_thread(path.parent.mkdir, parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                await asyncio.sleep(poll_s)
        yield
    finally:
        os.close(fd)  # closing releases the lock

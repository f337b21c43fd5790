"""This host's egress proxy as a child of the worker: started, started again if it dies.

The proxy is a process of its own (it handles apps' traffic; the worker holds
keys). It stops with the worker that started it (``--exit-with-parent``); it
writes its pid beside its configuration, so no second proxy is started on the
same sockets while one runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
from pathlib import Path

from runtime.egress.registry import pid_path
from runtime.procfs import alive, signal_exact
from schemas.egress import ProxyConfig

log = logging.getLogger(__name__)


class EgressProxyProcess:
    """Starts ``python -m runtime.egress CONFIG`` when none runs for CONFIG."""

    def __init__(
        self,
        config_path: Path,
        base: ProxyConfig,
        *,
        log_path: Path,
        argv_prefix: tuple[str, ...] = (),
        start_timeout_s: float = 30.0,
    ) -> None:
        self.config_path = config_path
        self._base = base
        self._log_path = log_path
        self._prefix = argv_prefix
        """Put before the command (tests: ``ip netns exec NS``)."""
        self._start_timeout_s = start_timeout_s
        self._proc: asyncio.subprocess.Process | None = None

    def running(self) -> tuple[int, int] | None:
        """The proxy serving CONFIG (pid, start time), whoever started it."""
        try:
            pid, start = pid_path(self.config_path).read_text().split()
            found = int(pid), int(start)
        except (OSError, ValueError):
            return None
        return found if alive(*found) else None

    async def ensure_running(self) -> bool:
        """Start the proxy unless one serves CONFIG; True when this call started it."""
        if await asyncio.to_thread(self.running) is not None:
            return False
        await asyncio.to_thread(self._prepare)
        log_fd = await asyncio.to_thread(_open_log, self._log_path)
        try:
            self._proc = await asyncio.create_subprocess_exec(
                *self._prefix,
                sys.executable,
                "-m",
                "runtime.egress",
                "--exit-with-parent",
                str(self.config_path),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=log_fd,
                start_new_session=True,
            )
        finally:
            os.close(log_fd)
        assert self._proc.stdout is not None
        try:
            async with asyncio.timeout(self._start_timeout_s):
                line = await self._proc.stdout.readline()
        except TimeoutError:
            line = b""
        if line.strip() != b"ready":
            await self.stop()
            raise RuntimeError(f"the egress proxy did not start; see {self._log_path}")
        log.info("egress proxy started (pid %d) for %s", self._proc.pid, self.config_path)
        return True

    def _prepare(self) -> None:
        self.config_path.parent.mkdir(parents=True, exist_ok=True)
        if not self.config_path.exists():
            self.config_path.write_text(self._base.model_dump_json(indent=1))
            self.config_path.chmod(0o600)

    async def stop(self) -> None:
        """Stop the proxy this object started (an adopted one keeps running)."""
        proc, self._proc = self._proc, None
        if proc is None or proc.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            proc.terminate()
        try:
            await asyncio.wait_for(proc.wait(), timeout=10.0)
        except TimeoutError:
            proc.kill()
            await proc.wait()

    async def stop_running(self) -> None:
        """Stop whichever proxy serves CONFIG (an operator's restart, tests)."""
        found = await asyncio.to_thread(self.running)
        if found is not None:
            await asyncio.to_thread(signal_exact, *found, signal.SIGTERM)
        await self.stop()


def _open_log(path: Path) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    return os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)

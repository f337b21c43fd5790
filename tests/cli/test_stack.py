"""`mb up` refuses clearly, before starting anything, when a port it needs is taken."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from cli.stack import run_stack
from schemas.settings import Settings
from temporal.devserver import PortInUse


async def test_mb_up_names_the_taken_api_port(tmp_path: Path) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        settings = Settings(data_dir=tmp_path / "data", api_port=port)
        with pytest.raises(PortInUse, match=f"port {port} .*HTTP API.*MB_API_PORT"):
            await run_stack(settings)
    assert not (tmp_path / "data" / "postgres").exists()
    assert not (tmp_path / "data" / "temporal").exists()

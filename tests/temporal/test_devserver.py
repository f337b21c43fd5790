"""The embedded Temporal dev server: persistence across restarts, clear port errors."""

from __future__ import annotations

import socket
import uuid
from pathlib import Path

import pytest

from pipeline.operations import request_deployment
from schemas.deployment import DeployRequest
from schemas.settings import Settings
from temporal.client import connect
from temporal.devserver import DevServer, PortInUse, free_loopback_port


async def test_a_taken_port_is_named_in_the_error(tmp_path: Path) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        server = DevServer(
            tmp_path / "t.sqlite", tmp_path / "t.log", port=port, ui_port=free_loopback_port()
        )
        with pytest.raises(PortInUse, match=f"port {port} .* already in use.*MB_TEMPORAL_PORT"):
            await server.start()
    assert not (tmp_path / "t.sqlite").exists()  # nothing was started


async def test_workflows_survive_a_server_restart(tmp_path: Path) -> None:
    port, ui = free_loopback_port(), free_loopback_port()
    server = DevServer(tmp_path / "t.sqlite", tmp_path / "t.log", port=port, ui_port=ui)
    await server.start()
    settings = Settings(data_dir=tmp_path, temporal_address=server.target)
    try:
        client = await connect(settings)
        request = DeployRequest(request_id=uuid.uuid4().hex, owner_id="u", prompt="a todo list")
        await request_deployment(client, "durable-app", request)  # no worker: it just waits
        await server.stop()
        await server.start()
        client = await connect(settings)
        description = await client.get_workflow_handle("app-durable-app").describe()
        assert description.status is not None and description.status.name == "RUNNING"
        assert description.search_attributes["MbAppId"] == ["durable-app"]
    finally:
        await server.stop()

"""`mb up` refuses clearly, before starting anything, when a port it needs is taken."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
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


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("MB_MASTER_KEY", "bm90LWEta2V5"),  # base64 of 9 bytes: truncated
        ("MB_MASTER_KEY", "!!not base64!!"),
        ("MB_CODEC_KEY", "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB"),  # 33 bytes
    ],
)
@pytest.mark.parametrize("command", ["up", "worker", "api"])
def test_a_malformed_key_stops_every_process_with_a_reason_and_no_echo(
    tmp_path: Path, variable: str, value: str, command: str
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MB_")}
    env.update({"MB_DATA_DIR": str(tmp_path / "data"), variable: value, "COLUMNS": "200"})
    done = subprocess.run(
        [sys.executable, "-m", "cli.main", command],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 1, output
    assert variable in output and "not shown" in output
    assert value not in output and "Traceback" not in output
    assert not (tmp_path / "data" / "postgres").exists()  # nothing was started


async def test_a_rotated_payload_key_still_decodes_what_the_old_one_encrypted(
    tmp_path: Path,
) -> None:
    from temporalio.api.common.v1 import Payload

    from temporal.converter import payload_codec

    settings = Settings(data_dir=tmp_path / "data")
    before = payload_codec(settings)
    old = await before.encode([Payload(metadata={"encoding": b"json/plain"}, data=b'"x"')])

    env = {k: v for k, v in os.environ.items() if not k.startswith("MB_")}
    env["MB_DATA_DIR"] = str(tmp_path / "data")
    done = subprocess.run(
        [sys.executable, "-m", "cli.main", "keys", "rotate-codec"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert before.current_key_id in done.stdout  # kept for old histories

    after = payload_codec(settings)
    assert after.current_key_id != before.current_key_id
    assert (await after.decode(old))[0].data == b'"x"'
    new = await after.encode([Payload(metadata={"encoding": b"json/plain"}, data=b'"y"')])
    assert new[0].metadata["encryption-key-id"] == after.current_key_id.encode()

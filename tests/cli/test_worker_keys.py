"""``mb worker`` and its keys at start: a key source missing a key, or a host that would
make keys of its own beside registered hosts, stops the worker in one line naming the
cause and the fix, with no traceback and nothing written (the real ``mb`` process and a
real PostgreSQL)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from schemas.settings import Settings
from store.db import Database
from store.runtime_hosts import RuntimeHosts
from tests.mb_env import mb_env

UNUSED_TEMPORAL = "127.0.0.1:1"  # refused before Temporal is reached


def _worker(data_dir: Path, *args: str, **settings: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "cli.main", "worker", *args],
        env=mb_env(data_dir, COLUMNS="300", MB_TEMPORAL_ADDRESS=UNUSED_TEMPORAL, **settings),
        capture_output=True,
        text=True,
        timeout=120,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 1, output
    assert "Traceback" not in output, output
    errors = [line for line in output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, output
    return errors[0]


def test_a_key_source_without_keys_stops_the_worker_at_start(tmp_path: Path) -> None:
    mount = tmp_path / "mount"
    mount.mkdir()
    error = _worker(
        tmp_path / "data",
        MB_KEY_SOURCE_DIR=str(mount),
        MB_DATABASE_URL="postgresql:///unused?host=/nonexistent",
    )
    assert f"no master keys in {mount / 'master'}" in error
    assert list(mount.iterdir()) == []  # nothing generated in the key source
    assert not (tmp_path / "data" / "keys").exists()


async def test_a_host_with_no_key_source_and_no_keys_is_refused_beside_other_hosts(
    tmp_path: Path, db: Database
) -> None:
    await RuntimeHosts(db).register("host-a", Settings().host_capacity())
    data_dir = tmp_path / "host-b"
    error = _worker(data_dir, "--runtime-host", "host-b", MB_DATABASE_URL=db.conninfo)
    assert "runtime host 'host-b' has no keys" in error
    assert "already runs on host-a" in error and "MB_KEY_SOURCE_DIR" in error
    assert not (data_dir / "keys").exists()  # no key of its own was made
    assert [h.name for h in await RuntimeHosts(db).hosts(15)] == ["host-a"]

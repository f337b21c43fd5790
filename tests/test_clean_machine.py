"""CI's clean-machine step stops an embedded PostgreSQL server a killed process left
behind (its lease names a process that is gone), and never one whose holder runs or
that has no lease."""

from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile
import time
from pathlib import Path
from types import ModuleType

from store.embedded import EmbeddedPostgres, lease_path

CLEAN_MACHINE = Path(__file__).parents[1] / ".ci" / "clean_machine.py"


def _clean_machine() -> ModuleType:
    spec = importlib.util.spec_from_file_location("clean_machine", CLEAN_MACHINE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _postmaster(pgdata: Path) -> int | None:
    """The server's pid while it runs."""
    pid_file = pgdata / "postmaster.pid"
    if not pid_file.exists():
        return None
    pid = int(pid_file.read_text().split()[0])
    return pid if Path(f"/proc/{pid}").exists() else None


def _gone(pid: int, within: float = 20.0) -> bool:
    deadline = time.monotonic() + within
    while Path(f"/proc/{pid}").exists():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


async def test_a_server_whose_holder_is_gone_is_stopped_and_no_other() -> None:
    root = Path(tempfile.mkdtemp(prefix="mb-cleantest-"))
    root.chmod(0o755)
    pgdata = root / "data"
    server = EmbeddedPostgres(pgdata)
    clean = _clean_machine()
    try:
        await server.start()
        postmaster = _postmaster(pgdata)
        assert postmaster is not None
        lease = lease_path(pgdata)
        assert lease.read_text().split()[0] == str(os.getpid())

        clean.stop_orphaned_servers()  # its holder (this process) runs
        assert _postmaster(pgdata) == postmaster

        held = lease.read_text()
        lease.unlink()
        clean.stop_orphaned_servers()  # no lease: not ours to judge
        assert _postmaster(pgdata) == postmaster

        # This pid with another start time: the process that held it is gone.
        lease.write_text(f"{os.getpid()} {int(held.split()[1]) - 1}\n")
        clean.stop_orphaned_servers()
        assert _gone(postmaster)
    finally:
        await server.stop()
        shutil.rmtree(root, ignore_errors=True)

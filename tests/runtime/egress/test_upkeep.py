"""A runtime host's egress proxy kept running by its worker, and the upkeep that applies
operators' decisions and stores what the proxy decided (real proxy processes, real
PostgreSQL, a real sandbox runtime). No traffic goes through these proxies."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from runtime.egress.decision_log import DecisionLog
from runtime.egress.registry import EgressRegistry, applied_path
from runtime.egress.supervisor import EgressProxyProcess
from runtime.procfs import alive
from runtime.sandbox import SandboxRuntime
from schemas.audit import Actor
from schemas.egress import ProxyConfig
from store.audit import AuditLog
from store.db import Database
from store.egress import EgressApprovals, EgressRecords
from tests.runtime.egress.decisions import UNDECLARED_REFUSAL
from tests.runtime.support import TEST_UIDS
from workers.egress_upkeep import EgressUpkeep

pytestmark = pytest.mark.timeout(120)


def base(root: Path) -> ProxyConfig:
    return ProxyConfig(decision_log=str(root / "decisions.jsonl"), use_dns=False)


async def test_the_proxy_is_started_once_and_again_when_it_dies(tmp_path: Path) -> None:
    proxy = EgressProxyProcess(
        tmp_path / "proxy.json", base(tmp_path), log_path=tmp_path / "proxy.log"
    )
    try:
        assert await proxy.ensure_running() is True
        first = proxy.running()
        assert first is not None
        assert await proxy.ensure_running() is False  # never a second one on the same sockets
        os.kill(first[0], signal.SIGKILL)
        deadline = time.monotonic() + 10
        while alive(*first) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert await proxy.ensure_running() is True
        second = proxy.running()
        assert second is not None and second != first
    finally:
        await proxy.stop()
    assert proxy.running() is None


def test_the_proxy_stops_with_the_process_that_started_it(tmp_path: Path) -> None:
    config = tmp_path / "proxy.json"
    config.write_text(base(tmp_path).model_dump_json())
    parent = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import subprocess, sys, time\n"
            "p = subprocess.Popen([sys.executable, '-m', 'runtime.egress', '--exit-with-parent',"
            f" {str(config)!r}], stdout=subprocess.PIPE, text=True)\n"
            "print(p.stdout.readline().strip(), p.pid, flush=True)\n"
            "time.sleep(120)\n",
        ],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[3],
    )
    assert parent.stdout is not None
    ready, pid = parent.stdout.readline().split()
    assert ready == "ready"
    parent.kill()
    parent.wait()
    deadline = time.monotonic() + 10
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text()


async def test_upkeep_applies_decisions_and_stores_what_the_proxy_decided(
    db: Database, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    config = tmp_path / "proxy.json"
    approvals = EgressApprovals(db, AuditLog(db))
    registry = EgressRegistry(config, base(tmp_path), approvals=approvals.approved)
    proxy = EgressProxyProcess(config, base(tmp_path), log_path=tmp_path / "proxy.log")
    runtime = SandboxRuntime(
        tmp_path_factory.mktemp("rt") / "s",
        host="h",
        uids=TEST_UIDS,
        memory_mb=64,
        pids=16,
        cpu=0.5,
        egress=registry,
    )
    upkeep = EgressUpkeep(
        proxy, registry, EgressRecords(db), runtime, "h", tmp_path / "decisions.jsonl"
    )
    try:
        await upkeep.once()
        assert proxy.running() is not None
        sock = tmp_path / "wx" / "proxy.sock"
        sock.parent.mkdir()
        entry = await registry.attach(
            app_id="wx-app",
            instance_id="wx-app-v1",
            version=1,
            socket_path=sock,
            declared=("api.example.com:443",),
        )
        assert entry.approved == ()
        assert sock.exists()  # the proxy served the new generation before attach returned
        assert [p.target for p in await approvals.pending("wx-app")] == ["api.example.com:443"]

        await approvals.decide(
            "wx-app", "api.example.com:443", "approve", reason="weather", actor=Actor(user_id="o")
        )
        served = int(applied_path(config).read_text())
        await registry.refresh_all()
        assert registry.current().apps[0].approved == ("api.example.com:443",)
        assert int(applied_path(config).read_text()) == served + 1
        await registry.refresh_all()  # nothing changed: no rewrite
        assert int(applied_path(config).read_text()) == served + 1

        DecisionLog(tmp_path / "decisions.jsonl").record(UNDECLARED_REFUSAL)
        await upkeep.once()  # wx-app-v1 is no instance of this runtime: detached
        assert registry.current().apps == ()
        assert not sock.exists()
        assert [r.target for r in await EgressRecords(db).refusals()] == ["evil.example.net"]
    finally:
        await proxy.stop()

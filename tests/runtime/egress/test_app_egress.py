"""An app reaches its approved hosts through the proxy, and nothing else, in both
runtimes: a real bubblewrap sandbox or a real Docker container, a real proxy process,
the upstream in a test namespace.

The app still has no network interface: the proxy's socket is bound in and the
forwarder serves ``HTTPS_PROXY`` on the app's own loopback. A direct connection to
the same upstream fails; a rollback brings its release's list.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import AsyncIterator, Collection, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import trustme

from runtime.base import PythonEnv
from runtime.docker import DockerRuntime
from runtime.egress.decision_log import read_decisions
from runtime.egress.registry import EgressRegistry
from runtime.sandbox import SandboxRuntime
from schemas.egress import EgressDecision, ProxyConfig, RefusalReason
from store.bundles import load_bundle_dir, make_bundle, write_bundle
from tests.runtime.egress.network import (
    SimulatedInternet,
    simulated_internet,
    start_proxy,
    start_upstream,
    stop_all,
)
from tests.runtime.support import TEST_UIDS

pytestmark = pytest.mark.timeout(180)

APP = """
import os
import socket

import httpx
from fastapi import FastAPI

app = FastAPI()


@app.get("/health")
def health() -> dict:
    return {"ok": True}


@app.get("/fetch")
def fetch(url: str) -> dict:
    try:
        answer = httpx.get(url, verify="/app/ca.pem", timeout=10)
    except httpx.HTTPError as exc:
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
    return {"ok": True, "status": answer.status_code, "text": answer.text}


@app.get("/direct")
def direct(host: str, port: int) -> dict:
    try:
        socket.create_connection((host, port), timeout=3).close()
    except OSError as exc:
        return {"connected": False, "error": f"{type(exc).__name__}: {exc}"}
    return {"connected": True}


@app.get("/tamper")
def tamper() -> dict:
    # Try to swap the proxy's socket for something of the app's own.
    outcomes = {}
    for name, attempt in (
        ("unlink", lambda: os.unlink("/run/egress/proxy.sock")),
        ("create", lambda: open("/run/egress/proxy.sock.new", "w").close()),
        ("symlink", lambda: os.symlink("/etc/passwd", "/run/egress/x")),
        ("list", lambda: os.listdir("/run/egress")),
    ):
        try:
            attempt()
            outcomes[name] = "done"
        except OSError as exc:
            outcomes[name] = type(exc).__name__
    return outcomes


@app.get("/proxy-env")
def proxy_env() -> dict:
    return {k: v for k, v in os.environ.items() if k.lower().endswith("_proxy")}
"""
NAMES = ("api.example.com", "other.example.com", "pending.example.com")


@dataclass
class World:
    net: SimulatedInternet
    root: Path
    ca_pem: str
    upstream_log: Path
    approved: set[str] = field(default_factory=set)

    @property
    def decision_log(self) -> Path:
        return self.root / "decisions.jsonl"

    def decisions(self) -> list[EgressDecision]:
        return read_decisions(self.decision_log)

    async def approvals(self, app_id: str, version: int, targets: Sequence[str]) -> Collection[str]:
        assert version >= 1
        return set(self.approved) & set(targets) if app_id.startswith("wx") else set()

    def bundle(self, name: str, egress: list[str]) -> Path:
        toml = f"egress = {egress!r}\n".replace("'", '"')
        files = {
            "main.py": APP,
            "requirements.txt": "fastapi\n",
            "tests/test_main.py": "def test_placeholder():\n    assert True\n",
            "ca.pem": self.ca_pem,
            "microapp.toml": toml,
        }
        return write_bundle(make_bundle(files), self.root / "bundles" / name)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("egx")
    ca = trustme.CA()
    pem = root / "upstream.pem"
    ca.issue_cert(*NAMES).private_key_and_cert_chain_pem.write_to_path(pem)
    procs: list[subprocess.Popen[str]] = []
    with simulated_internet() as net:
        (root / "hosts").write_text(f"{net.upstream_address} {' '.join(NAMES)}\n")
        base = ProxyConfig(
            decision_log=str(root / "decisions.jsonl"),
            hosts_file=str(root / "hosts"),
            use_dns=False,
            simulated_internet=(str(net.subnet),),
            connect_timeout_s=3.0,
        )
        (root / "proxy.json").write_text(base.model_dump_json())
        log = root / "upstream.log"
        try:
            procs.append(
                start_upstream(
                    net, net.upstream_ns, "upstream", net.upstream_address, pem, (443, 80), log
                )
            )
            procs.append(start_proxy(net, root / "proxy.json", root / "proxy.log"))
            yield World(net, root, ca.cert_pem.bytes().decode(), log)
        finally:
            stop_all(procs)


@pytest.fixture(params=["sandbox", "docker"])
async def runtime(
    world: World, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> AsyncIterator[SandboxRuntime | DockerRuntime]:
    base = ProxyConfig.load(world.root / "proxy.json")
    registry = EgressRegistry(world.root / "proxy.json", base, approvals=world.approvals)
    state = tmp_path_factory.mktemp("rt") / "s"
    rt: SandboxRuntime | DockerRuntime
    if request.param == "docker":
        request.getfixturevalue("docker_base")
        rt = DockerRuntime(
            state,
            host="egress-host",
            uids=TEST_UIDS,
            memory_mb=256,
            pids=64,
            cpu=1.0,
            egress=registry,
        )
    else:
        rt = SandboxRuntime(
            state,
            host="egress-host",
            uids=TEST_UIDS,
            memory_mb=256,
            pids=64,
            cpu=1.0,
            egress=registry,
        )
    yield rt
    await rt.stop_all(drain_s=0)
    assert registry.current().apps == ()  # every stopped instance detached


async def start(
    rt: SandboxRuntime | DockerRuntime,
    world: World,
    app_id: str,
    version: int,
    egress: list[str],
    env: PythonEnv,
    generation: int = 0,
) -> str:
    bundle_dir = world.bundle(f"{app_id}-{version}-{generation}", egress)
    info = await rt.start(
        app_id=app_id,
        version=version,
        bundle_dir=bundle_dir,
        env=env,
        manifest=load_bundle_dir(bundle_dir).manifest,
        generation=generation,
    )
    return info.socket_path


async def call(socket_path: str, path: str, **params: Any) -> Any:
    transport = httpx.AsyncHTTPTransport(uds=socket_path)
    async with httpx.AsyncClient(transport=transport, base_url="http://app", timeout=30) as c:
        answer = await c.get(path, params=params)
        answer.raise_for_status()
        return answer.json()


def refusal(world: World, host: str, after: int) -> EgressDecision:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        found = [d for d in world.decisions()[after:] if d.host == host and not d.allowed]
        if found:
            return found[-1]
        time.sleep(0.05)
    raise AssertionError(f"no refusal of {host}: {world.decisions()[after:]}")


async def test_an_approved_host_is_reached_and_nothing_else(
    world: World, runtime: SandboxRuntime | DockerRuntime, pyenv: PythonEnv
) -> None:
    world.approved = {"api.example.com:443"}
    sock = await start(
        runtime, world, "wx-one", 1, ["api.example.com:443", "pending.example.com:443"], pyenv
    )
    assert (await call(sock, "/proxy-env"))["HTTPS_PROXY"] == "http://127.0.0.1:3128"

    got = await call(sock, "/fetch", url="https://api.example.com/weather")
    assert got == {"ok": True, "status": 200, "text": "hello from upstream via api.example.com\n"}

    # Refused and audited: undeclared, declared but not approved, an IP literal.
    for url, host, reason in (
        ("https://other.example.com/", "other.example.com", RefusalReason.NOT_DECLARED),
        ("https://pending.example.com/", "pending.example.com", RefusalReason.NOT_APPROVED),
        (
            f"https://{world.net.upstream_address}/",
            world.net.upstream_address,
            RefusalReason.IP_LITERAL,
        ),
    ):
        before = len(world.decisions())
        got = await call(sock, "/fetch", url=url)
        assert got["ok"] is False and "403" in got["error"], got
        found = refusal(world, host, before)
        assert (found.app_id, found.version, found.port, found.reason) == ("wx-one", 1, 443, reason)

    # The app cannot swap the proxy's socket for one of its own, nor even list the directory.
    tampered = await call(sock, "/tamper")
    assert "done" not in tampered.values(), tampered

    # No way around the proxy: the very upstream it reached is unreachable directly.
    direct = await call(sock, "/direct", host=world.net.upstream_address, port=443)
    assert direct == {"connected": False, "error": "OSError: [Errno 101] Network is unreachable"}

    # An operator approves the pending host: the running instance may use it at once.
    world.approved.add("pending.example.com:443")
    assert runtime.egress is not None
    await runtime.egress.refresh("wx-one")
    got = await call(sock, "/fetch", url="https://pending.example.com/")
    assert got["ok"] is True and got["status"] == 200


async def test_an_app_without_egress_gets_no_socket_and_no_proxy(
    world: World, runtime: SandboxRuntime | DockerRuntime, pyenv: PythonEnv
) -> None:
    sock = await start(runtime, world, "quiet", 1, [], pyenv)
    assert await call(sock, "/proxy-env") == {}
    got = await call(sock, "/fetch", url="https://api.example.com/")
    assert got["ok"] is False
    assert runtime.egress is not None and runtime.egress.current().apps == ()


async def test_a_rollback_takes_its_releases_list_with_it(
    world: World, runtime: SandboxRuntime | DockerRuntime, pyenv: PythonEnv
) -> None:
    world.approved = {"api.example.com:443", "other.example.com:443"}
    v1 = await start(runtime, world, "wx-two", 1, ["api.example.com:443"], pyenv)
    v2 = await start(runtime, world, "wx-two", 2, ["other.example.com:443"], pyenv)
    # Both releases run side by side during a deploy, each with its own list.
    assert (await call(v1, "/fetch", url="https://api.example.com/"))["ok"] is True
    assert (await call(v2, "/fetch", url="https://other.example.com/"))["ok"] is True
    before = len(world.decisions())
    assert (await call(v2, "/fetch", url="https://api.example.com/"))["ok"] is False
    assert refusal(world, "api.example.com", before).version == 2

    # Release 2 goes, release 1 comes back (a rollback starts it anew).
    await runtime.stop("wx-two-v2", drain_s=0)
    await runtime.stop("wx-two-v1", drain_s=0)
    back = await start(runtime, world, "wx-two", 1, ["api.example.com:443"], pyenv, generation=1)
    assert (await call(back, "/fetch", url="https://api.example.com/"))["ok"] is True
    before = len(world.decisions())
    assert (await call(back, "/fetch", url="https://other.example.com/"))["ok"] is False
    found = refusal(world, "other.example.com", before)
    assert (found.version, found.reason) == (1, RefusalReason.NOT_DECLARED)

"""The egress proxy as a real process, with real traffic to hosts in test namespaces.

The proxy runs in a namespace that reaches only the simulated upstream (see
:mod:`tests.runtime.egress.network`); an app is stood in for by a real HTTP
client (httpx) going through the same stdlib forwarder an app runs, to the
app's unix socket. Every refusal must be in the decision log with the app,
host, port and reason.
"""

from __future__ import annotations

import json
import signal
import socket
import ssl
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import trustme

from runtime.egress.decision_log import read_decisions
from schemas.egress import AppEgress, EgressDecision, EgressLimits, ProxyConfig, RefusalReason
from tests.runtime.egress.network import (
    SimulatedInternet,
    python,
    simulated_internet,
    stop_all,
    wait_ready,
)

pytestmark = pytest.mark.timeout(120)

REPO = Path(__file__).resolve().parents[3]
FORWARDER = REPO / "runtime" / "egress_forwarder.py"
UPSTREAM = Path(__file__).with_name("upstream.py")
NAMES = ("api.example.com", "other.example.com", "pending.example.com", "plain.example.com")
DECLARED = (
    "api.example.com:443",
    "plain.example.com:80",
    "pending.example.com:443",
    "loopback.example.com:8443",
    "metadata.example.com:80",
    "mapped.example.com:443",
    "mixed.example.com:443",
)
APPROVED = tuple(d for d in DECLARED if not d.startswith("pending."))
APPS = ("weather", "other", "hungry")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class World:
    net: SimulatedInternet
    root: Path
    config_path: Path
    proxy: subprocess.Popen[str]
    ports: dict[str, int]
    """app id -> the loopback port of its forwarder (the app's HTTPS_PROXY)"""
    trust: ssl.SSLContext
    upstream_log: Path
    canary_log: Path

    @property
    def decision_log(self) -> Path:
        return self.root / "decisions.jsonl"

    def config(self, weather: AppEgress) -> ProxyConfig:
        return ProxyConfig(
            decision_log=str(self.decision_log),
            apps=(
                weather,
                AppEgress(app_id="other", version=1, socket_path=str(self.socket("other"))),
                AppEgress(
                    app_id="hungry",
                    version=1,
                    socket_path=str(self.socket("hungry")),
                    declared=("big.example.com:443",),
                    approved=("big.example.com:443",),
                    limits=EgressLimits(bytes_per_hour=4 * 1024 * 1024),
                ),
            ),
            hosts_file=str(self.root / "hosts"),
            use_dns=False,
            simulated_internet=(str(self.net.subnet),),
            connect_timeout_s=3.0,
        )

    def socket(self, app_id: str) -> Path:
        return self.root / app_id / "proxy.sock"

    def client(self, app_id: str = "weather") -> httpx.Client:
        return httpx.Client(
            proxy=f"http://127.0.0.1:{self.ports[app_id]}", verify=self.trust, timeout=10.0
        )

    def decisions(self) -> list[EgressDecision]:
        return read_decisions(self.decision_log)

    def decision_for(self, host: str, *, allowed: bool, after: int = 0) -> EgressDecision:
        """The decision about ``host`` (waiting briefly: an allowed one is written at close)."""
        deadline = time.monotonic() + 10.0
        while True:
            found = [d for d in self.decisions()[after:] if d.host == host and d.allowed is allowed]
            if found:
                return found[-1]
            if time.monotonic() > deadline:
                raise AssertionError(f"no decision about {host}: {self.decisions()[after:]}")
            time.sleep(0.05)

    def reload(self, weather: AppEgress) -> None:
        self.config_path.write_text(self.config(weather).model_dump_json())
        self.proxy.send_signal(signal.SIGHUP)
        assert self.proxy.stdout is not None
        assert self.proxy.stdout.readline().strip() == "reloaded"


WEATHER = AppEgress(
    app_id="weather",
    version=1,
    socket_path="",
    declared=DECLARED,
    approved=APPROVED,
)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("egress")
    ca = trustme.CA()
    pem = root / "upstream.pem"
    ca.issue_cert(*NAMES, "big.example.com").private_key_and_cert_chain_pem.write_to_path(pem)
    trust = ssl.create_default_context()
    ca.configure_trust(trust)
    procs: list[subprocess.Popen[str]] = []
    with simulated_internet() as net:
        up = net.upstream_address
        (root / "hosts").write_text(
            f"{up} {' '.join(NAMES)} big.example.com\n"
            "127.0.0.1 loopback.example.com\n"
            "169.254.169.254 metadata.example.com\n"
            "::ffff:10.0.0.1 mapped.example.com\n"
            f"{up} mixed.example.com\n127.0.0.1 mixed.example.com\n"
        )
        logs = {name: root / f"{name}.log" for name in ("upstream", "canary", "proxy")}
        try:
            for name, ns, address, https_port, http_port in (
                ("upstream", net.upstream_ns, up, "443", "80"),
                # A listener on the proxy's own loopback: a name pointing there must not reach it.
                ("canary", net.proxy_ns, "127.0.0.1", "8443", "8080"),
            ):
                with logs[name].open("w") as err:
                    server = net.run_in(
                        ns,
                        [
                            python(),
                            str(UPSTREAM),
                            name,
                            address,
                            str(pem),
                            str(pem),
                            https_port,
                            http_port,
                        ],
                        stdin=subprocess.PIPE,
                        stdout=subprocess.PIPE,
                        stderr=err,
                    )
                procs.append(server)
                wait_ready(server, name)
            for app_id in APPS:
                (root / app_id).mkdir(mode=0o700)
            config_path = root / "proxy.json"
            world = World(net, root, config_path, None, {}, trust, logs["upstream"], logs["canary"])  # type: ignore[arg-type]
            weather = WEATHER.model_copy(update={"socket_path": str(world.socket("weather"))})
            config_path.write_text(world.config(weather).model_dump_json())
            with logs["proxy"].open("w") as err:
                world.proxy = net.run_in(
                    net.proxy_ns,
                    [python(), "-m", "runtime.egress", str(config_path)],
                    stdout=subprocess.PIPE,
                    stderr=err,
                    cwd=REPO,
                )
            procs.append(world.proxy)
            wait_ready(world.proxy, "the egress proxy")
            for app_id in APPS:
                port = free_port()
                procs.append(
                    subprocess.Popen(
                        [python(), str(FORWARDER), str(port), str(world.socket(app_id))],
                        stderr=subprocess.DEVNULL,
                        text=True,
                    )
                )
                world.ports[app_id] = port
                wait_listening(port)
            yield world
        finally:
            stop_all(procs)


def wait_listening(port: int) -> None:
    deadline = time.monotonic() + 10.0
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1.0).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port}")


def test_a_declared_and_approved_host_is_reached_over_https_connect(world: World) -> None:
    before = len(world.decisions())
    with world.client() as client:
        answer = client.get("https://api.example.com/hello")
    assert answer.status_code == 200
    assert answer.text == "hello from upstream via api.example.com\n"
    decision = world.decision_for("api.example.com", allowed=True, after=before)
    assert (decision.app_id, decision.version, decision.port, decision.method) == (
        "weather",
        1,
        443,
        "CONNECT",
    )
    assert decision.address == world.net.upstream_address
    assert decision.bytes_up > 0 and decision.bytes_down > len(answer.content)  # TLS around it


def test_plain_http_is_relayed_in_origin_form(world: World) -> None:
    before = len(world.decisions())
    with world.client() as client:
        answer = client.post("http://plain.example.com/path?q=1", content=b"abc")
    assert answer.status_code == 200
    assert answer.text == "hello from upstream via plain.example.com\n"
    assert "hit POST /path?q=1 3" in world.upstream_log.read_text()
    decision = world.decision_for("plain.example.com", allowed=True, after=before)
    assert decision.method == "HTTP" and decision.port == 80


@pytest.mark.parametrize(
    ("url", "host", "port", "reason"),
    [
        ("https://other.example.com/", "other.example.com", 443, RefusalReason.NOT_DECLARED),
        ("https://api.example.com:8443/", "api.example.com", 8443, RefusalReason.NOT_DECLARED),
        ("https://pending.example.com/", "pending.example.com", 443, RefusalReason.NOT_APPROVED),
        (
            "https://loopback.example.com:8443/",
            "loopback.example.com",
            8443,
            RefusalReason.DENIED_ADDRESS,
        ),
        (
            "http://metadata.example.com/latest/meta-data/",
            "metadata.example.com",
            80,
            RefusalReason.DENIED_ADDRESS,
        ),
        ("https://mapped.example.com/", "mapped.example.com", 443, RefusalReason.DENIED_ADDRESS),
        ("https://mixed.example.com/", "mixed.example.com", 443, RefusalReason.DENIED_ADDRESS),
        ("https://UPSTREAM/", "UPSTREAM", 443, RefusalReason.IP_LITERAL),
        ("http://UPSTREAM/", "UPSTREAM", 80, RefusalReason.IP_LITERAL),
        ("http://169.254.169.254/latest/", "169.254.169.254", 80, RefusalReason.IP_LITERAL),
        # httpx writes CONNECT ::1:8443 (no brackets); either way it is an address
        ("https://[::1]:8443/", "::1", 8443, RefusalReason.IP_LITERAL),
    ],
)
def test_refusals_are_answered_and_audited(
    world: World, url: str, host: str, port: int, reason: RefusalReason
) -> None:
    url = url.replace("UPSTREAM", world.net.upstream_address)
    host = host.replace("UPSTREAM", world.net.upstream_address)
    before = len(world.decisions())
    hits = world.upstream_log.read_text().count("hit ")
    with world.client() as client:
        if url.startswith("https:"):
            with pytest.raises(httpx.ProxyError) as refused:
                client.get(url)
            assert "403" in str(refused.value) or "502" in str(refused.value)
        else:
            answer = client.get(url)
            assert answer.status_code == 403
            assert answer.headers["x-mb-egress-refused"] == reason.value
    refusals = [(d.app_id, d.host, d.port, d.reason) for d in world.decisions()[before:]]
    assert refusals == [("weather", host, port, reason)]
    assert world.upstream_log.read_text().count("hit ") == hits  # nothing reached upstream
    assert "hit" not in world.canary_log.read_text()  # nor the proxy's own loopback


def test_the_socket_says_which_app_is_asking(world: World) -> None:
    before = len(world.decisions())
    with world.client("other") as client, pytest.raises(httpx.ProxyError):
        client.get("https://api.example.com/")
    (refusal,) = world.decisions()[before:]
    assert (refusal.app_id, refusal.reason) == ("other", RefusalReason.NOT_DECLARED)


def test_a_malformed_request_is_refused_and_audited(world: World) -> None:
    before = len(world.decisions())
    with socket.socket(socket.AF_UNIX) as raw:
        raw.connect(str(world.socket("weather")))
        raw.sendall(b"GET /relative HTTP/1.1\r\nHost: api.example.com\r\n\r\n")
        answer = raw.recv(4096)
    assert answer.startswith(b"HTTP/1.1 400 ")
    (refusal,) = world.decisions()[before:]
    assert (refusal.app_id, refusal.reason) == ("weather", RefusalReason.BAD_REQUEST)


def test_a_new_release_brings_its_own_list(world: World) -> None:
    """A rollback or deploy rewrites the config; the next request is judged by it."""
    socket_path = str(world.socket("weather"))
    v2 = WEATHER.model_copy(
        update={
            "version": 2,
            "socket_path": socket_path,
            "declared": ("other.example.com:443",),
            "approved": ("other.example.com:443",),
        }
    )
    world.reload(v2)
    try:
        before = len(world.decisions())
        with world.client() as client:
            assert client.get("https://other.example.com/").status_code == 200
            with pytest.raises(httpx.ProxyError):
                client.get("https://api.example.com/")
        refusal = world.decision_for("api.example.com", allowed=False, after=before)
        assert (refusal.version, refusal.reason) == (2, RefusalReason.NOT_DECLARED)
    finally:
        world.reload(WEATHER.model_copy(update={"socket_path": socket_path}))
    with world.client() as client:
        assert client.get("https://api.example.com/").status_code == 200


def test_the_hourly_byte_budget_cuts_a_download(world: World) -> None:
    """4 MiB an hour: a 6 MiB answer is cut short, audited, and the next connection refused."""
    before = len(world.decisions())
    with world.client("hungry") as client:
        with pytest.raises(httpx.HTTPError):
            client.get("https://big.example.com/", headers={"x-size": str(6 * 1024 * 1024)})
        with pytest.raises(httpx.ProxyError) as refused:
            client.get("https://big.example.com/")
        assert "429" in str(refused.value)
    reasons = [(d.host, d.allowed, d.reason) for d in world.decisions()[before:]]
    assert ("big.example.com", False, RefusalReason.BYTE_LIMIT) in reasons
    allowed = world.decision_for("big.example.com", allowed=True, after=before)
    assert 4 * 1024 * 1024 < allowed.bytes_down < 5 * 1024 * 1024


def test_the_decision_log_is_json_lines(world: World) -> None:
    for line in world.decision_log.read_text().splitlines():
        assert json.loads(line)["app_id"] in APPS

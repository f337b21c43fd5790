"""A simulated internet for egress tests: network namespaces the test creates and deletes.

Topology (one free /30 of 10.213.0.0/26, checked unused in every namespace first)::

    root namespace: the test, the app side (forwarder, sandbox); no route to either ns
    netns P "proxy": lo, veth .1/30, no default route   <- the egress proxy runs here
    netns U "upstream": lo, veth .2/30                  <- HTTPS/HTTP servers run here

The proxy runs in P so that even a broken guard can only reach U or P's own
loopback: any other address is "Network is unreachable" there, and no packet
leaves this machine. Apps reach the proxy through a unix socket (a path,
shared by every namespace).
"""

from __future__ import annotations

import ipaddress
import json
import os
import secrets
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

POOL = ipaddress.ip_network("10.213.0.0/26")


def ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], check=check, capture_output=True, text=True, timeout=30)


def networks_in_use() -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """Every address network configured in the root namespace and every named namespace."""
    outputs = [ip("-j", "addr").stdout]
    for line in ip("netns", "list").stdout.splitlines():
        name = line.split()[0]
        outputs.append(ip("-n", name, "-j", "addr", check=False).stdout or "[]")
    found = []
    for output in outputs:
        for link in json.loads(output):
            for addr in link.get("addr_info", []):
                found.append(
                    ipaddress.ip_network(f"{addr['local']}/{addr['prefixlen']}", strict=False)
                )
    routes = json.loads(ip("-j", "route").stdout)
    for route in routes:
        if route.get("dst") not in (None, "default"):
            found.append(ipaddress.ip_network(route["dst"], strict=False))
    return found


def free_subnet() -> ipaddress.IPv4Network:
    used = networks_in_use()
    for subnet in ipaddress.IPv4Network(POOL).subnets(new_prefix=30):
        if not any(subnet.overlaps(u) for u in used if u.version == 4):
            return subnet
    raise RuntimeError(f"no free /30 left in {POOL}")


@dataclass(frozen=True)
class SimulatedInternet:
    """The namespaces and addresses of one test's simulated internet."""

    subnet: ipaddress.IPv4Network
    proxy_ns: str
    upstream_ns: str

    @property
    def proxy_address(self) -> str:
        return str(self.subnet[1])

    @property
    def upstream_address(self) -> str:
        return str(self.subnet[2])

    def run_in(self, namespace: str, argv: list[str], **kwargs: object) -> subprocess.Popen[str]:
        return subprocess.Popen(  # type: ignore[call-overload, no-any-return]
            ["ip", "netns", "exec", namespace, *argv], text=True, **kwargs
        )


@contextmanager
def simulated_internet() -> Iterator[SimulatedInternet]:
    """Create the two namespaces and their veth pair; delete them afterwards."""
    if os.geteuid() != 0 or shutil.which("ip") is None:
        raise RuntimeError("the egress network tests need root and iproute2")
    subnet = free_subnet()
    tag = secrets.token_hex(3)
    net = SimulatedInternet(subnet, f"mbeg-p-{tag}", f"mbeg-u-{tag}")
    proxy_if, upstream_if = f"mbp{tag}", f"mbu{tag}"
    try:
        ip("netns", "add", net.proxy_ns)
        ip("netns", "add", net.upstream_ns)
        ip("link", "add", proxy_if, "type", "veth", "peer", "name", upstream_if)
        ip("link", "set", proxy_if, "netns", net.proxy_ns)
        ip("link", "set", upstream_if, "netns", net.upstream_ns)
        for ns, link, address in (
            (net.proxy_ns, proxy_if, net.proxy_address),
            (net.upstream_ns, upstream_if, net.upstream_address),
        ):
            ip("-n", ns, "addr", "add", f"{address}/{subnet.prefixlen}", "dev", link)
            ip("-n", ns, "link", "set", link, "up")
            ip("-n", ns, "link", "set", "lo", "up")
        # The proxy's namespace reaches its peer and nothing else.
        routes = ip("-n", net.proxy_ns, "-j", "route").stdout
        assert all(r.get("dst") != "default" for r in json.loads(routes))
        yield net
    finally:
        ip("netns", "del", net.proxy_ns, check=False)
        ip("netns", "del", net.upstream_ns, check=False)


def wait_ready(proc: subprocess.Popen[str], what: str) -> None:
    """Read ``proc``'s stdout until it says ``ready`` (or fail with its stderr)."""
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if line.strip() != "ready":
        proc.kill()
        _, err = proc.communicate(timeout=10)
        raise RuntimeError(f"{what} did not start: {line!r} {err[-2000:] if err else ''}")


def python() -> str:
    return sys.executable


UPSTREAM_SCRIPT = Path(__file__).with_name("upstream.py")
REPO = Path(__file__).resolve().parents[3]


def start_upstream(
    net: SimulatedInternet,
    namespace: str,
    name: str,
    address: str,
    pem: Path,
    ports: tuple[int, int],
    log: Path,
) -> subprocess.Popen[str]:
    """An HTTPS (``ports[0]``) and HTTP (``ports[1]``) server in ``namespace``, ready."""
    with log.open("w") as err:
        server = net.run_in(
            namespace,
            [python(), str(UPSTREAM_SCRIPT), name, address, str(pem), str(pem)]
            + [str(p) for p in ports],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=err,
        )
    wait_ready(server, name)
    return server


def start_proxy(net: SimulatedInternet, config: Path, log: Path) -> subprocess.Popen[str]:
    """``python -m runtime.egress CONFIG`` in the proxy's namespace, ready."""
    with log.open("w") as err:
        proxy = net.run_in(
            net.proxy_ns,
            [python(), "-m", "runtime.egress", str(config)],
            stdout=subprocess.PIPE,
            stderr=err,
            cwd=REPO,
        )
    wait_ready(proxy, "the egress proxy")
    return proxy


def stop_all(procs: list[subprocess.Popen[str]]) -> None:
    for proc in reversed(procs):
        proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()

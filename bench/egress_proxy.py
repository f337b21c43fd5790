"""Request latency through the egress proxy against the same upstream reached directly.

    sudo python -m bench.egress_proxy [--requests N]

Builds the test topology (network namespaces: the proxy's, the upstream's; see
``tests/runtime/egress/network.py``), starts the HTTPS upstream and the real
proxy process, and runs a client inside the proxy's namespace that measures,
interleaved in rounds, one HTTPS GET each way:

- ``direct``: TCP + TLS to the upstream's address;
- ``proxy``: the app's path without its relay, CONNECT on the app's unix socket;
- ``forwarder``: the app's whole path, CONNECT to the stdlib forwarder on
  loopback, relayed to the socket, then the proxy (what ``HTTPS_PROXY`` does);

each once with a new connection per request (CONNECT, resolution, policy and
TLS every time) and once reusing one connection (bytes relayed only). Ends
with ``figure: value`` lines. Traffic stays in the namespaces it creates.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HOST = "api.example.com"
ROOT = Path(__file__).resolve().parents[1]


def _request(conn: ssl.SSLSocket, close: bool) -> None:
    conn.sendall(
        f"GET /bench HTTP/1.1\r\nHost: {HOST}\r\n"
        f"Connection: {'close' if close else 'keep-alive'}\r\n\r\n".encode()
    )
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = conn.recv(65536)
        if not chunk:
            raise ConnectionError("upstream closed")
        buf += chunk
    head, _, body = buf.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        body += conn.recv(65536)


def _open(mode: str, args: argparse.Namespace, ctx: ssl.SSLContext) -> ssl.SSLSocket:
    if mode == "direct":
        raw = socket.create_connection((args.upstream, 443))
    else:
        if mode == "proxy":
            raw = socket.socket(socket.AF_UNIX)
            raw.connect(args.socket)
        else:
            raw = socket.create_connection(("127.0.0.1", args.port))
        raw.sendall(f"CONNECT {HOST}:443 HTTP/1.1\r\nHost: {HOST}:443\r\n\r\n".encode())
        answer = b""
        while b"\r\n\r\n" not in answer:
            answer += raw.recv(4096)
        if not answer.startswith(b"HTTP/1.1 200"):
            raise ConnectionError(answer.decode(errors="replace"))
    if raw.family != socket.AF_UNIX:
        # As HTTP clients do (httpx, curl): a request's TLS records go out at once.
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return ctx.wrap_socket(raw, server_hostname=HOST)


def client(args: argparse.Namespace) -> None:
    """Inside the proxy's namespace: time each mode, print JSON."""
    ctx = ssl.create_default_context(cafile=args.ca)
    modes = ("direct", "proxy", "forwarder")
    fresh: dict[str, list[float]] = {m: [] for m in modes}
    reused: dict[str, list[float]] = {m: [] for m in modes}
    kept = {m: _open(m, args, ctx) for m in modes}
    for _ in range(args.requests):
        for mode in modes:
            started = time.perf_counter()
            with _open(mode, args, ctx) as conn:
                _request(conn, close=True)
            fresh[mode].append(time.perf_counter() - started)
            started = time.perf_counter()
            _request(kept[mode], close=False)
            reused[mode].append(time.perf_counter() - started)
    sys.stdout.write(json.dumps({"fresh": fresh, "reused": reused}) + "\n")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--client", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--socket", help=argparse.SUPPRESS)
    parser.add_argument("--upstream", help=argparse.SUPPRESS)
    parser.add_argument("--ca", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.client:
        client(args)
        return
    bench(args.requests)


def bench(requests: int) -> None:
    """Build the topology, run the client in the proxy's namespace, print the figures."""
    import trustme

    from schemas.egress import AppEgress, EgressLimits, ProxyConfig
    from tests.runtime.egress.network import (
        simulated_internet,
        start_proxy,
        start_upstream,
        stop_all,
    )

    root = Path(tempfile.mkdtemp(prefix="mb-bench-egress-"))
    ca = trustme.CA()
    pem = root / "upstream.pem"
    ca.issue_cert(HOST).private_key_and_cert_chain_pem.write_to_path(pem)
    ca_file = root / "ca.pem"
    ca.cert_pem.write_to_path(ca_file)
    procs: list[subprocess.Popen[str]] = []
    with simulated_internet() as net:
        (root / "hosts").write_text(f"{net.upstream_address} {HOST}\n")
        (root / "app").mkdir(mode=0o700)
        sock = root / "app" / "proxy.sock"
        config = ProxyConfig(
            decision_log=str(root / "decisions.jsonl"),
            apps=(
                AppEgress(
                    app_id="bench",
                    version=1,
                    socket_path=str(sock),
                    declared=(f"{HOST}:443",),
                    approved=(f"{HOST}:443",),
                    # the bench measures latency, not the budgets
                    limits=EgressLimits(
                        connections_per_minute=100_000, bytes_per_hour=1 << 40, max_concurrent=64
                    ),
                ),
            ),
            hosts_file=str(root / "hosts"),
            use_dns=False,
            simulated_internet=(str(net.subnet),),
        )
        config_path = root / "proxy.json"
        config_path.write_text(config.model_dump_json())
        try:
            procs.append(
                start_upstream(
                    net,
                    net.upstream_ns,
                    "upstream",
                    net.upstream_address,
                    pem,
                    (443, 80),
                    root / "upstream.log",
                )
            )
            procs.append(start_proxy(net, config_path, root / "proxy.log"))
            port = 13128
            procs.append(
                net.run_in(
                    net.proxy_ns,
                    [
                        sys.executable,
                        str(ROOT / "runtime" / "egress_forwarder.py"),
                        str(port),
                        str(sock),
                    ],
                )
            )
            time.sleep(0.5)
            out = subprocess.run(
                [
                    "ip",
                    "netns",
                    "exec",
                    net.proxy_ns,
                    sys.executable,
                    "-m",
                    "bench.egress_proxy",
                    "--client",
                    "--requests",
                    str(requests),
                    "--socket",
                    str(sock),
                    "--upstream",
                    net.upstream_address,
                    "--ca",
                    str(ca_file),
                    "--port",
                    str(port),
                ],
                capture_output=True,
                text=True,
                check=False,
                timeout=300,
                cwd=ROOT,
                env={**os.environ, "PYTHONPATH": str(ROOT)},
            )
        finally:
            stop_all(procs)
    if out.returncode != 0:
        raise SystemExit(f"the client failed:\n{out.stderr[-3000:]}")
    timings = json.loads(out.stdout.strip().splitlines()[-1])
    print(
        f"{'mode':<11}{'new connection ms':>19}{'reused connection ms':>22}"
        f"   (median of {requests})"
    )
    med = {
        kind: {mode: statistics.median(v) * 1000 for mode, v in per.items()}
        for kind, per in timings.items()
    }
    for mode in ("direct", "proxy", "forwarder"):
        print(f"{mode:<11}{med['fresh'][mode]:>19.2f}{med['reused'][mode]:>22.2f}")
    print(f"egress_direct_request_ms: {med['fresh']['direct']:.2f}")
    print(f"egress_proxied_request_ms: {med['fresh']['forwarder']:.2f}")
    print(f"egress_proxy_latency_ratio: {med['fresh']['forwarder'] / med['fresh']['direct']:.2f}")
    print(
        "egress_proxy_reused_latency_ratio: "
        f"{med['reused']['forwarder'] / med['reused']['direct']:.2f}"
    )
    print(f"egress_socket_only_latency_ratio: {med['fresh']['proxy'] / med['fresh']['direct']:.2f}")


if __name__ == "__main__":
    main()

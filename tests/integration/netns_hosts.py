"""Runtime hosts simulated as network namespaces, for the integration tests.

Each host is a namespace of its own (``mbhost-<pid>-<n>``, the test process's pid
in the name) joined to the root namespace by one veth pair on a /30 of
``POOL`` (root side ``.1``, host side ``.2``; no default route, so the host reaches
only its peer address and its own loopback). In it run the host's ``mb worker
--runtime-host NAME`` and ``mb host-gateway`` (listening on the host side
address), with a data directory of their own. A host has no package index: uv runs
offline there (``UV_OFFLINE``), from the machine's uv cache, which
``warm_package_cache`` fills from the root namespace first. PostgreSQL (unix socket
only) and the Temporal dev server (127.0.0.1) stay in the root namespace; each host
reaches them only through a relay process (``tcp_relay``) listening on its root side
address. The front gateway reaches each host gateway at its namespace address.

``POOL`` is disjoint from the egress tests' pool (``tests/runtime/egress/network.py``)
and a subnet is taken only when no namespace or route on the machine overlaps it,
under a lock, so concurrent runs cannot collide. Namespaces whose creator is no
longer running are swept at start.
"""

from __future__ import annotations

import contextlib
import fcntl
import ipaddress
import json
import os
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Collection, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from psycopg.conninfo import conninfo_to_dict

from activities.generation.blueprints.scaffold import REQUIREMENTS
from runtime.envs import EnvBuilder
from schemas.settings import Settings
from store.key_rings import master_key_ring, owner_keys
from store.key_source import gateway_ca_source, key_source
from store.releases import ReleaseRepository
from tests.integration.conftest import Stack, running_stack
from tests.integration.second_host import LIGHT_QA, kill_group, live_hosts
from tests.mb_env import mb_env
from tests.runtime.egress.network import ip, networks_in_use
from workers.wiring import evidence_keys, sandbox_runtime

POOL = ipaddress.IPv4Network("10.213.64.0/26")
PREFIX = "mbhost-"
LOCK = Path("/run/lock/mb-netns-hosts.lock")
GATEWAY_PORT = 8239  # every namespace has ports of its own

COMMANDS = {"worker": ("worker",), "host-gateway": ("host-gateway",)}
_OURS = re.compile(rf"^{PREFIX}(\d+)-\d+$")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _namespaces() -> list[str]:
    return [line.split()[0] for line in ip("netns", "list").stdout.splitlines() if line]


def kill_namespace(name: str) -> None:
    """SIGKILL every process left in namespace ``name`` (ours: a test started them),
    then delete it (its veth pair goes with it)."""
    pids = ip("netns", "pids", name, check=False).stdout.split()
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(int(pid), signal.SIGKILL)
    ip("netns", "del", name, check=False)


def sweep_leftovers() -> list[str]:
    """Delete the namespaces of earlier runs whose test process is gone; their names."""
    swept = []
    for name in _namespaces():
        found = _OURS.match(name)
        if found and not _alive(int(found.group(1))):
            kill_namespace(name)
            swept.append(name)
    return swept


def free_subnets(count: int) -> list[ipaddress.IPv4Network]:
    """``count`` /30s of ``POOL`` that no address or route on the machine overlaps."""
    used = [u for u in networks_in_use() if u.version == 4]
    free = [s for s in POOL.subnets(new_prefix=30) if not any(s.overlaps(u) for u in used)]
    if len(free) < count:
        raise RuntimeError(f"only {len(free)} free /30 left in {POOL}")
    return free[:count]


@dataclass(frozen=True)
class HostNetwork:
    """One host's namespace and the two ends of its veth pair."""

    namespace: str
    subnet: ipaddress.IPv4Network

    @property
    def root_address(self) -> str:
        """The root namespace's end: where the relays to PostgreSQL and Temporal listen."""
        return str(self.subnet[1])

    @property
    def address(self) -> str:
        """The host's end: where its gateway listens."""
        return str(self.subnet[2])

    def argv(self, *command: str) -> list[str]:
        """``command`` run inside the namespace."""
        return ["ip", "netns", "exec", self.namespace, *command]


@contextlib.contextmanager
def host_networks(count: int) -> Iterator[list[HostNetwork]]:
    """``count`` namespaces, each with its veth pair; all deleted afterwards, whatever
    happened (any process still inside is killed first)."""
    if os.geteuid() != 0 or shutil.which("ip") is None:
        raise RuntimeError("simulated hosts need root and iproute2")
    sweep_leftovers()
    made: list[HostNetwork] = []
    try:
        LOCK.parent.mkdir(parents=True, exist_ok=True)
        with LOCK.open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # choose and configure before another run looks
            for n, subnet in enumerate(free_subnets(count)):
                net = HostNetwork(f"{PREFIX}{os.getpid()}-{n}", subnet)
                ip("netns", "add", net.namespace)
                made.append(net)
                _wire(net, f"mbh{os.getpid()}r{n}", f"mbh{os.getpid()}h{n}")
        yield made
    finally:
        for net in made:
            kill_namespace(net.namespace)


def _wire(net: HostNetwork, root_if: str, host_if: str) -> None:
    ip("link", "add", root_if, "type", "veth", "peer", "name", host_if)
    ip("link", "set", host_if, "netns", net.namespace)
    ip("addr", "add", f"{net.root_address}/30", "dev", root_if)
    ip("link", "set", root_if, "up")
    ns = ("-n", net.namespace)
    ip(*ns, "addr", "add", f"{net.address}/30", "dev", host_if)
    ip(*ns, "link", "set", host_if, "up")
    ip(*ns, "link", "set", "lo", "up")
    routes = json.loads(ip(*ns, "-j", "route").stdout)
    assert all(r.get("dst") != "default" for r in routes), routes


def start_relay(address: str, targets: list[str]) -> tuple[subprocess.Popen[str], list[int]]:
    """A relay process (``tcp_relay``) listening on ``address``: it and its ports, one per
    target (``tcp:HOST:PORT`` or ``unix:PATH``)."""
    relay = subprocess.Popen(
        [sys.executable, "-m", "tests.integration.tcp_relay", address, *targets],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).parents[2],
    )
    assert relay.stdout is not None
    line = relay.stdout.readline()
    if not line.strip():
        relay.kill()
        raise RuntimeError(f"the relay on {address} did not start")
    return relay, [int(port) for port in line.split()]


def stop_relay(relay: subprocess.Popen[str]) -> None:
    """Close its stdin (it exits), killing it if it lingers."""
    assert relay.stdin is not None
    relay.stdin.close()
    try:
        relay.wait(timeout=10)
    except subprocess.TimeoutExpired:
        relay.kill()
        relay.wait()


@dataclass
class NamespacedHost:
    """One runtime host: its namespace, settings and processes (started, SIGKILLed and
    started again by name)."""

    name: str
    net: HostNetwork
    env: dict[str, str]
    settings: Settings
    logs: Path
    relay: subprocess.Popen[str]
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def start(self, command: str) -> None:
        """Start ``worker`` or ``host-gateway`` inside the namespace."""
        argv = self.net.argv(sys.executable, "-m", "cli.main", *COMMANDS[command])
        self.procs[command] = subprocess.Popen(
            argv,
            env=self.env,
            stdout=(self.logs / f"{command}-{self.name}.log").open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def kill(self, command: str) -> None:
        """SIGKILL the process and its process group."""
        kill_group(self.procs.pop(command))

    def run(self, *command: str) -> subprocess.CompletedProcess[str]:
        """A short command inside the namespace."""
        return subprocess.run(
            self.net.argv(*command), capture_output=True, text=True, timeout=60, check=False
        )


async def warm_package_cache(stack: Stack) -> None:
    """Resolve and install the blueprint apps' environment in the root namespace (which
    reaches the package index), so that the hosts' offline uv finds it all cached."""
    await EnvBuilder(stack.data_dir / "envs").ensure(REQUIREMENTS)


def _postgres_socket(database_url: str) -> tuple[str, dict[str, str]]:
    """The unix socket path of a unix-socket PostgreSQL URL, and its other parameters."""
    params = {k: str(v) for k, v in conninfo_to_dict(database_url).items()}
    socket_dir, port = Path(params.pop("host")), params.pop("port", None)
    if port is not None:
        return str(socket_dir / f".s.PGSQL.{port}"), params
    (socket,) = (p for p in socket_dir.glob(".s.PGSQL.*") if p.suffix != ".lock")
    return str(socket), params


def create_shared_keys(stack: Stack) -> None:
    """Create the keys a worker would make on first use in the stack's key directory, the
    hosts' key source (with no worker in the root namespace, none made them yet; a
    mounted key source is never written by a host)."""
    evidence_keys(stack.settings).sign(b"made on first use")
    key_source(stack.settings).codec_ring()
    owner_keys(stack.settings).get_or_create("local")
    master_key_ring(stack.settings)
    gateway_ca_source(stack.settings).load()


def namespaced_host(
    stack: Stack, net: HostNetwork, name: str, index: int, extra: dict[str, str]
) -> NamespacedHost:
    """Host ``name`` in ``net``: its own data directory, its keys and gateway CA from the
    shared key source (the stack's key directory, as a mounted secret would be), its own
    sandbox uid range, and PostgreSQL and Temporal reached only through a relay on its
    veth's root side."""
    data_dir = stack.data_dir / name
    data_dir.mkdir(mode=0o755)
    keys = stack.settings.keys_path
    socket_path, pg = _postgres_socket(stack.env["MB_DATABASE_URL"])
    relay, (pg_port, t_port) = start_relay(
        net.root_address, [f"unix:{socket_path}", f"tcp:{stack.env['MB_TEMPORAL_ADDRESS']}"]
    )
    settings = stack.settings
    uid_base = str(settings.sandbox_uid_base + (index + 1) * settings.sandbox_uid_count)
    env = mb_env(
        data_dir,
        MB_TEMPORAL_ADDRESS=f"{net.root_address}:{t_port}",
        MB_DATABASE_URL=(
            f"postgresql://{pg['user']}@{net.root_address}:{pg_port}/{pg['dbname']}?sslmode=disable"
        ),
        MB_ADVISORY_DB=stack.env["MB_ADVISORY_DB"],
        MB_DRAIN_S="0.2",
        MB_SANDBOX_UID_BASE=uid_base,
        MB_RUNTIME_HOST=name,
        MB_HOST_GATEWAY_HOST=net.address,
        MB_HOST_GATEWAY_PORT=str(GATEWAY_PORT),
        MB_KEY_SOURCE_DIR=str(keys),
        UV_OFFLINE="1",
        **extra,
    )
    return NamespacedHost(
        name=name,
        net=net,
        env=env,
        settings=Settings(
            data_dir=data_dir,
            runtime_host=name,
            sandbox_uid_base=int(uid_base),
            key_source_dir=keys,
        ),
        logs=stack.data_dir / "logs",
        relay=relay,
    )


@dataclass
class Cluster:
    """The stack and its namespaced hosts."""

    stack: Stack
    hosts: dict[str, NamespacedHost]
    app_ids: Collection[str]

    async def routes(self) -> dict[str, str]:
        """Each app's host, from its route."""
        releases = ReleaseRepository(self.stack.db)
        found = {}
        for app_id in self.app_ids:
            route = await releases.route(app_id)
            assert route is not None, app_id
            found[app_id] = route.host
        return found


@contextlib.asynccontextmanager
async def running_cluster(names: Sequence[str], app_ids: Collection[str]) -> AsyncIterator[Cluster]:
    """The stack with no worker of its own and one namespaced host per name, each live
    with its gateway registered; everything stopped and deleted afterwards."""
    with host_networks(len(names)) as nets:
        async with running_stack(worker_env=LIGHT_QA, root_worker=False) as stack:
            await warm_package_cache(stack)
            create_shared_keys(stack)
            hosts: dict[str, NamespacedHost] = {}
            try:
                for n, (name, net) in enumerate(zip(names, nets, strict=True)):
                    hosts[name] = namespaced_host(stack, net, name, n, LIGHT_QA)
                for host in hosts.values():
                    for command in COMMANDS:
                        host.start(command)
                await live_hosts(stack, names=names, with_gateway=names)
                yield Cluster(stack, hosts, app_ids)
            finally:
                for host in hosts.values():
                    for command in list(host.procs):
                        host.kill(command)
                    await sandbox_runtime(host.settings).stop_all(drain_s=0)
                    stop_relay(host.relay)

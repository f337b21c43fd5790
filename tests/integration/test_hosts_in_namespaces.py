"""Three runtime hosts, each in a network namespace of its own (``netns_hosts``): a
worker and a host gateway per host, each with its own data directory, PostgreSQL and
Temporal reached only through relays on the host's veth, the front gateway reaching
each host gateway at its namespace address. One stack, in order: a host cannot reach
the root namespace's loopback; placement spreads three apps over the three hosts; a
drained host empties while every app answers every request; a SIGKILLed host's apps
answer again from the others, with a ``host_lost`` incident each; the returning host
stops its stale instances (fenced) and is routed nothing."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import AsyncIterator

import pytest

from pipeline.operations import app_status
from store.host_gateways import HostGatewayRegistry
from store.runtime_hosts import RuntimeHosts
from tests.integration.conftest import Stack
from tests.integration.netns_hosts import (
    COMMANDS,
    GATEWAY_PORT,
    PREFIX,
    Cluster,
    NamespacedHost,
    running_cluster,
    sweep_leftovers,
)
from tests.integration.second_host import (
    answering,
    assert_host_lost_incident,
    drain_while_polling,
    fenced_incidents,
    live_hosts,
)
from tests.runtime.egress.network import ip
from workers.wiring import sandbox_runtime

pytestmark = [pytest.mark.integration, pytest.mark.timeout(3000)]

HOSTS = ("ns-host-a", "ns-host-b", "ns-host-c")
APPS = {
    "ns-guestbook": "a guestbook for our wedding",
    "ns-tips": "a tip calculator",
    "ns-todo": "a todo list for my climbing team",
}

# Run inside a namespace: connect to argv[1]:argv[2], print "connected" or the errno's name.
PROBE = """
import errno, socket, sys
try:
    socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5).close()
    print("connected")
except OSError as err:
    print(errno.errorcode.get(err.errno, repr(err)))
"""


def test_the_sweep_deletes_only_namespaces_of_runs_that_are_gone() -> None:
    gone = subprocess.Popen(["true"])
    gone.wait()
    dead, alive = f"{PREFIX}{gone.pid}-0", f"{PREFIX}{os.getpid()}-9"
    try:
        for name in (dead, alive):
            ip("netns", "add", name)
        swept = sweep_leftovers()
        assert dead in swept and alive not in swept
        assert ip("netns", "pids", dead, check=False).returncode != 0  # no such namespace
        assert ip("netns", "pids", alive).returncode == 0
    finally:
        for name in (dead, alive):
            ip("netns", "del", name, check=False)


@pytest.fixture(scope="module")
async def cluster() -> AsyncIterator[Cluster]:
    async with running_cluster(HOSTS, APPS) as cluster:
        yield cluster


def probe(host: NamespacedHost, address: str, port: int) -> str:
    done = host.run(sys.executable, "-c", PROBE, address, str(port))
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


async def test_a_host_reaches_its_peer_address_and_not_the_roots_loopback(
    cluster: Cluster,
) -> None:
    host_a, host_b = cluster.hosts[HOSTS[0]], cluster.hosts[HOSTS[1]]
    with socket.create_server(("127.0.0.1", 0)) as on_loopback:
        port = on_loopback.getsockname()[1]
        assert probe(host_a, "127.0.0.1", port) == "ECONNREFUSED"  # its own loopback
        assert probe(host_a, host_a.net.root_address, port) == "ECONNREFUSED"
    with socket.create_server((host_a.net.root_address, 0)) as on_veth:  # the control
        assert probe(host_a, host_a.net.root_address, on_veth.getsockname()[1]) == "connected"
    # Another host's namespace is no neighbour: no route leads there.
    assert probe(host_a, host_b.net.address, GATEWAY_PORT) == "ENETUNREACH"
    gateways = HostGatewayRegistry(cluster.stack.db)
    for name, host in cluster.hosts.items():
        assert await gateways.url(name) == f"https://{host.net.address}:{GATEWAY_PORT}"


async def deploy_apps(stack: Stack) -> None:
    """Deploy ``APPS`` at once, each until it is live."""
    deployments = {app: (await stack.deploy(app, prompt))[0] for app, prompt in APPS.items()}
    for app_id, deployment in deployments.items():
        await stack.outcome(app_id, deployment, within=1800)


async def test_placement_spreads_the_apps_over_the_three_hosts(cluster: Cluster) -> None:
    stack = cluster.stack
    await deploy_apps(stack)
    assert sorted((await cluster.routes()).values()) == sorted(HOSTS)
    for app_id in APPS:
        await stack.page(app_id)  # front gateway -> the host's gateway in its namespace


async def test_a_drained_host_empties_with_no_failed_request(cluster: Cluster) -> None:
    stack, drained = cluster.stack, HOSTS[0]
    (moving,) = [app for app, host in (await cluster.routes()).items() if host == drained]
    done, _, statuses = await drain_while_polling(stack, drained, APPS)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"moving 1 app(s): {moving}" in done.stdout and f"{drained} is drained" in done.stdout
    assert len(statuses) > 50 and set(statuses) == {200}, sorted(set(statuses))
    routes = await cluster.routes()
    assert drained not in routes.values()
    view = await RuntimeHosts(stack.db).host(drained, 15)
    assert view is not None and view.state == "drained" and view.apps == 0
    runtime = sandbox_runtime(cluster.hosts[drained].settings)
    assert "running" not in [await runtime.state(i.instance_id) for i in await runtime.instances()]
    # Active again, empty: the lost host's apps may come back here.
    assert stack.mb("hosts", "undrain", drained).returncode == 0


async def kill_busiest_host(cluster: Cluster) -> tuple[str, dict[str, str], float]:
    """SIGKILL the worker and gateway of the host with the most apps: its name, its apps'
    instances there, and seconds until they all answer 200 through the front gateway."""
    routes = await cluster.routes()
    lost = max(HOSTS, key=lambda h: list(routes.values()).count(h))
    stale = {}
    for app_id in [app for app, on in routes.items() if on == lost]:
        status = await app_status(cluster.stack.client, app_id)
        assert status.live is not None
        stale[app_id] = status.live.instance_id
    for command in COMMANDS:
        cluster.hosts[lost].kill(command)
    return lost, stale, await answering(cluster.stack, stale)


async def test_a_killed_hosts_apps_come_back_on_the_others_and_it_is_fenced(
    cluster: Cluster,
) -> None:
    stack = cluster.stack
    lost, stale, seconds = await kill_busiest_host(cluster)
    host = cluster.hosts[lost]
    assert len(stale) == 2  # its own app and the drained host's
    print(f"netns_host_recovery_s: {seconds:.1f}")

    hosts = RuntimeHosts(stack.db)
    view = await hosts.host(lost, 15)
    assert view is not None and view.state == "lost"
    moved = await cluster.routes()
    assert lost not in moved.values()
    for app_id in stale:
        await assert_host_lost_incident(stack, app_id, lost)
    runtime = sandbox_runtime(host.settings)
    for instance_id in stale.values():  # unreachable, still running: fencing's work
        assert await runtime.state(instance_id) == "running"

    for command in COMMANDS:  # the host returns
        host.start(command)
    await live_hosts(stack, names=HOSTS, with_gateway=HOSTS)
    view = await hosts.host(lost, 15)
    assert view is not None and view.state == "lost"  # until an operator undrains it
    for app_id, instance_id in stale.items():
        assert await runtime.state(instance_id) != "running"
        fenced = await fenced_incidents(stack, app_id)
        assert len(fenced) == 1 and moved[app_id] in fenced[0].reason
        await stack.page(app_id)
    assert await cluster.routes() == moved

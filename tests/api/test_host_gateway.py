"""Routing across hosts: the front gateway reaches an app on another host through that host's
gateway (mutual TLS on 127.0.0.3), and a host gateway serves only the front gateway and only
its own host's apps."""

from __future__ import annotations

import asyncio
import datetime
import json
import socket
import ssl
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from api.app_proxy import UpstreamPool
from store.db import Database
from store.gateway_ca import DirectoryCaSource, GatewayCa
from store.gateway_certs import (
    FRONT_IDENTITY,
    front_gateway_files,
    host_gateway_files,
    host_server_name,
    issue,
    write_pair,
)
from store.host_gateways import HostGatewayRegistry
from tests.api.host_gateways import (
    CLIENT,
    HOST,
    HOST_ADDRESS,
    TwoHosts,
    client_context,
    direct,
    free_port,
    two_hosts,
)


@pytest.fixture
async def hosts(db: Database) -> AsyncIterator[TwoHosts]:
    async with two_hosts(db) as running:
        yield running


async def test_the_front_gateway_reaches_an_app_on_another_host_through_its_gateway(
    hosts: TwoHosts,
) -> None:
    await hosts.route("echo-app", HOST)
    r = await hosts.front.post(
        "/apps/echo-app/api/items?x=1",
        content=b'{"a": 1}',
        headers={
            "Authorization": "Bearer mbt_secret_platform_token",
            "Cookie": "mb_session=victim; app_pref=dark; __Host-mb_session=v2; mb_login=x",
            "Host": "evil.example",
            "X-Forwarded-For": "203.0.113.9",
            "X-Forwarded-Host": "evil.example",
            "X-Forwarded-Proto": "https",
            "X-Forwarded-Prefix": "/elsewhere",
            "Forwarded": "for=203.0.113.9;host=evil.example",
            "X-Real-IP": "203.0.113.9",
        },
    )
    assert r.status_code == 201, r.text
    [seen] = hosts.app.seen
    assert seen == {"path": "/api/items", "headers": r.json()["headers"]}
    assert r.json()["body"] == '{"a": 1}'
    headers = seen["headers"]
    # Two hops, and still: our credentials never reach app code.
    assert "authorization" not in headers
    assert "mbt_secret_platform_token" not in json.dumps(seen)
    assert headers["cookie"] == "app_pref=dark"
    # What the client wrote about itself is not believed; the front gateway's view is.
    assert headers["x-forwarded-for"] == CLIENT
    assert headers["x-forwarded-proto"] == "http"
    assert headers["x-forwarded-prefix"] == "/apps/echo-app"
    assert "evil.example" not in json.dumps(headers)
    assert "203.0.113.9" not in json.dumps(headers)
    assert not {"forwarded", "x-forwarded-host", "x-real-ip"} & headers.keys()
    # The answer: no cookie that passes for ours, the framing protection kept.
    assert r.headers.get_list("set-cookie") == ["theme=dark; Path=/apps/echo-app/"]
    assert r.headers.get_list("x-frame-options") == ["DENY"]
    assert any("frame-ancestors 'none'" in p for p in r.headers.get_list("content-security-policy"))


@pytest.mark.parametrize(
    "path",
    [
        "/apps/echo-app/..%2F..%2Fapps%2Fother%2F",
        "/apps/echo-app/%2e%2e/%2e%2e/apps/other/",
        "/apps/echo-app/.%2E/..%2fapps/other/x%3Fy",
    ],
)
async def test_a_path_cannot_walk_from_one_app_to_another_across_the_hop(
    hosts: TwoHosts, path: str
) -> None:
    await hosts.route("echo-app", HOST)
    await hosts.route("other", HOST)
    r = await hosts.front.get(path, headers={"Cookie": "echo_cart=3"})
    assert r.status_code == 201
    [seen] = hosts.app.seen
    # The host gateway routed it to the app the front gateway chose, with that app's cookie.
    assert seen["headers"]["x-forwarded-prefix"] == "/apps/echo-app"


async def test_the_host_gateway_registers_while_it_serves(db: Database) -> None:
    registry = HostGatewayRegistry(db)
    async with two_hosts(db) as hosts:
        assert await registry.url(HOST) == hosts.host_url
    assert await registry.url(HOST) is None


def _self_signed_front() -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "front gateway")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=True)
        .add_extension(
            x509.SubjectAlternativeName([x509.UniformResourceIdentifier(FRONT_IDENTITY)]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    return cert, key


def _front(ca: GatewayCa, **kwargs: object) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    names: list[x509.GeneralName] = [x509.UniformResourceIdentifier(FRONT_IDENTITY)]
    return issue(ca, common_name="front gateway", names=names, client=True, **kwargs)  # type: ignore[arg-type]


# How a refusal looks to the client: the TLS handshake fails (the server's alert is read
# as the handshake completes), or the handshake succeeds and the connection is closed
# before any answer (the certificate is the CA's but does not name the front gateway).
TLS_REFUSAL = (httpx.ConnectError, httpx.ReadError)
IDENTITY_REFUSAL = httpx.RemoteProtocolError


async def _refused(
    hosts: TwoHosts,
    cert: Path | None,
    key: Path | None,
    how: type[Exception] | tuple[type[Exception], ...],
) -> None:
    context = client_context(DirectoryCaSource(hosts.ca_dir).load().certificate_pem(), cert, key)
    with pytest.raises(how):
        r = await direct(context, hosts.host_url, "/apps/echo-app/")
        pytest.fail(f"the host gateway answered {r.status_code} to a client that is not the front")


@pytest.mark.parametrize(
    ("client", "how"),
    [
        ("no certificate", TLS_REFUSAL),
        ("self-signed", TLS_REFUSAL),
        ("another CA", TLS_REFUSAL),
        ("the host gateway's own certificate", TLS_REFUSAL),  # it may only serve
        ("expired", TLS_REFUSAL),
        ("the CA's, not the front's", IDENTITY_REFUSAL),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
async def test_the_host_gateway_refuses_every_client_but_the_front_gateway(
    hosts: TwoHosts, tmp_path: Path, client: str, how: type[Exception]
) -> None:
    await hosts.route("echo-app", HOST)
    ca = DirectoryCaSource(hosts.ca_dir).load()
    now = datetime.datetime.now(datetime.UTC)
    host_names: list[x509.GeneralName] = [x509.DNSName(host_server_name("hostb"))]
    Pair = tuple[x509.Certificate, ec.EllipticCurvePrivateKey]
    made: dict[str, Callable[[], Pair]] = {
        "self-signed": _self_signed_front,
        "another CA": lambda: _front(DirectoryCaSource(tmp_path / "other-ca").load()),
        "expired": lambda: _front(ca, not_before=now - datetime.timedelta(days=3), days=1),
        # A certificate that may authenticate a client, from our CA, naming a host.
        "the CA's, not the front's": lambda: issue(
            ca, common_name="front gateway", names=host_names, client=True
        ),
    }
    if client == "no certificate":
        cert, key = None, None
    elif client == "the host gateway's own certificate":
        files = host_gateway_files(hosts.host_settings)
        cert, key = files.certificate, files.key
    else:
        cert, key = write_pair(*made[client](), tmp_path / "client")
    await _refused(hosts, cert, key, how)
    assert hosts.app.seen == []
    # The front gateway's own certificate is let in (the same request, the same server).
    files = front_gateway_files(hosts.services.settings)
    good = client_context(ca.certificate_pem(), files.certificate, files.key)
    assert (await direct(good, hosts.host_url, "/apps/echo-app/")).status_code == 201


async def test_a_host_gateway_serves_only_its_own_hosts_apps(hosts: TwoHosts) -> None:
    await hosts.route("elsewhere", "hostb")  # a live app on another host, socket reachable here
    files = front_gateway_files(hosts.services.settings)
    context = client_context(files.ca_pem, files.certificate, files.key)
    r = await direct(context, hosts.host_url, "/apps/elsewhere/")
    assert r.status_code == 421 and "live on another host" in r.json()["detail"]
    r = await direct(context, hosts.host_url, "/apps/never-deployed/")
    assert r.status_code == 404
    assert hosts.app.seen == []


async def test_a_route_to_a_host_without_a_reachable_gateway_is_a_502_with_a_reason(
    hosts: TwoHosts,
) -> None:
    await hosts.route("unregistered", "hostc")
    r = await hosts.front.get("/apps/unregistered/")
    assert r.status_code == 502
    assert "host 'hostc', which has no registered gateway" in r.json()["detail"]
    registry = HostGatewayRegistry(hosts.services.db)
    await registry.register("hostd", f"https://127.0.0.3:{free_port('127.0.0.3')}")
    await hosts.route("down", "hostd")
    r = await hosts.front.get("/apps/down/")
    assert r.status_code == 502 and "gateway of host 'hostd' is not reachable" in r.text
    assert hosts.app.seen == []


async def test_the_front_gateway_checks_which_host_answers(hosts: TwoHosts) -> None:
    # hostb's registration points at hosta's gateway: its certificate names hosta, not hostb.
    await HostGatewayRegistry(hosts.services.db).register("hostb", hosts.host_url)
    await hosts.route("elsewhere", "hostb")
    r = await hosts.front.get("/apps/elsewhere/")
    assert r.status_code == 502 and "gateway of host 'hostb'" in r.json()["detail"]
    assert hosts.app.seen == []


async def test_a_slow_host_gateway_is_a_504(hosts: TwoHosts) -> None:
    await hosts.route("echo-app", HOST)
    app = hosts.front._transport.app  # type: ignore[attr-defined]
    app.state.upstreams = UpstreamPool(timeout_s=0.5)
    r = await hosts.front.get("/apps/echo-app/slow")
    assert r.status_code == 504 and "did not answer in time" in r.json()["detail"]
    await app.state.upstreams.close()


async def test_a_local_route_still_goes_straight_to_the_socket(hosts: TwoHosts) -> None:
    await hosts.route("local-app", "front")  # the front gateway's own host, no gateway registered
    assert (await hosts.front.get("/apps/local-app/x")).status_code == 201
    assert hosts.app.seen[0]["path"] == "/x"


async def test_a_running_host_gateway_renews_its_certificate_when_due(db: Database) -> None:
    async with two_hosts(db, renew_check_s=0.2) as hosts:
        ca = DirectoryCaSource(hosts.ca_dir).load()
        files = host_gateway_files(hosts.host_settings)
        served = x509.load_pem_x509_certificate(files.certificate.read_bytes())
        names = list(served.extensions.get_extension_for_class(x509.SubjectAlternativeName).value)
        # As if it had been running for three weeks: 9 days left on the file.
        due = issue(ca, common_name="host gateway hosta", names=names, client=False, days=9)
        write_pair(*due, files.certificate.with_suffix(""))
        await asyncio.sleep(1.0)
        renewed = x509.load_pem_x509_certificate(files.certificate.read_bytes())
        assert renewed.serial_number not in (served.serial_number, due[0].serial_number)
        front = front_gateway_files(hosts.services.settings)
        context = client_context(front.ca_pem, front.certificate, front.key)
        port = hosts.host_settings.host_gateway_port
        presented = await asyncio.to_thread(_served_certificate, context, port)
        assert presented.serial_number == renewed.serial_number  # new connections get it


def _served_certificate(context: ssl.SSLContext, port: int) -> x509.Certificate:
    """The certificate the host gateway presents on a new connection."""
    with socket.create_connection((HOST_ADDRESS, port)) as raw:
        with context.wrap_socket(raw, server_hostname=host_server_name(HOST)) as tls:
            der = tls.getpeercert(binary_form=True)
    assert der is not None
    return x509.load_der_x509_certificate(der)


async def test_a_request_sent_to_a_host_the_app_just_left_follows_the_route_again(
    hosts: TwoHosts, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The front gateway read the route just before a move switched it: the old host's
    gateway answers 421 and sends nothing on, and the front follows the route once more
    (a request with a body, which streams once, gets the 421 with a reason instead)."""
    await hosts.route("moving", "front")  # now served by the front itself, from the socket
    releases = hosts.services.releases
    real = releases.route
    stale_reads = 0

    async def read_before_the_switch(app_id: str) -> Any:
        nonlocal stale_reads
        route = await real(app_id)
        if route is not None and stale_reads == 0:
            stale_reads += 1
            return route.model_copy(update={"host": HOST})  # where it was a moment ago
        return route

    monkeypatch.setattr(releases, "route", read_before_the_switch)
    r = await hosts.front.get("/apps/moving/")
    assert r.status_code == 201 and stale_reads == 1
    assert len(hosts.app.seen) == 1  # the app got the request once

    stale_reads = 0
    r = await hosts.front.post("/apps/moving/", content=b'{"n": 1}')
    assert r.status_code == 421 and "send it again" in r.json()["detail"]
    assert len(hosts.app.seen) == 1  # nothing reached the app

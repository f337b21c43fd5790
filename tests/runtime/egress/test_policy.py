"""The egress decision without sockets: names, lists, DNS answers and budgets.

Adversarial: each case is a way an app could try to reach what it must not
(an address for a name, a name pointing inside, a wildcard stretched, a host
never declared or not yet approved), and the reason the audit would record.
"""

from __future__ import annotations

import ipaddress

import pytest
from pydantic import ValidationError

from runtime.egress.addresses import IPAddress, denial
from runtime.egress.limits import AppBudget
from runtime.egress.policy import AppPolicy, Refusal, networks, resolve_checked
from runtime.egress.resolver import Resolver, parse_hosts_file
from schemas.egress import AppEgress, EgressLimits, ProxyConfig, RefusalReason

APP = AppEgress(
    app_id="weather",
    version=3,
    socket_path="/run/x.sock",
    declared=(
        "api.example.com:443",
        "*.tiles.example.org:443",
        "pending.example.net:443",
        "cdn.example.io:443",
        "blocked.example.com:443",
    ),
    approved=("api.example.com:443", "*.tiles.example.org:443", "blocked.example.com:443"),
)
POLICY = AppPolicy(
    APP,
    platform_allow=("*.example.io:443",),
    platform_deny=("*.example.com",),
)
# The platform deny-list above covers every *.example.com name; a second policy without it
# checks the allowed path of api.example.com.
OPEN_POLICY = AppPolicy(APP, platform_allow=("*.example.io:443",))


def reason(policy: AppPolicy, host: str, port: int = 443) -> RefusalReason | None:
    refusal = policy.check(host, port)
    return refusal.reason if refusal is not None else None


@pytest.mark.parametrize(
    ("host", "port", "expected"),
    [
        ("api.example.com", 443, None),
        ("API.Example.com.", 443, None),  # case and a trailing dot change nothing
        ("a.tiles.example.org", 443, None),
        ("cdn.example.io", 443, None),  # declared, and the platform allows it: no approval
        ("api.example.com", 80, RefusalReason.NOT_DECLARED),  # another port
        ("evil.example.org", 443, RefusalReason.NOT_DECLARED),
        ("a.b.tiles.example.org", 443, RefusalReason.NOT_DECLARED),  # wildcard stretched
        ("tiles.example.org", 443, RefusalReason.NOT_DECLARED),  # the apex is not "*."
        ("*.tiles.example.org", 443, RefusalReason.INVALID_HOST),  # a pattern is no host
        ("api.example.com.evil.org", 443, RefusalReason.NOT_DECLARED),
        ("pending.example.net", 443, RefusalReason.NOT_APPROVED),  # declared, not approved
        ("other.example.io", 443, RefusalReason.NOT_DECLARED),  # allowed, never declared
        ("10.0.0.1", 443, RefusalReason.IP_LITERAL),
        ("169.254.169.254", 80, RefusalReason.IP_LITERAL),
        ("[::1]", 443, RefusalReason.IP_LITERAL),
        ("::ffff:10.0.0.1", 443, RefusalReason.IP_LITERAL),
        ("127.1", 443, RefusalReason.IP_LITERAL),
        ("2130706433", 443, RefusalReason.IP_LITERAL),
        ("0x7f000001", 443, RefusalReason.IP_LITERAL),
        ("localhost", 443, RefusalReason.INVALID_HOST),
        ("api.example.com\r\nx", 443, RefusalReason.INVALID_HOST),
        ("", 443, RefusalReason.INVALID_HOST),
    ],
)
def test_requests_are_judged_against_the_release_and_the_approvals(
    host: str, port: int, expected: RefusalReason | None
) -> None:
    assert reason(OPEN_POLICY, host, port) is expected


def test_the_platform_deny_list_wins_over_an_approval() -> None:
    assert reason(POLICY, "blocked.example.com") is RefusalReason.DENIED_HOST
    assert reason(POLICY, "api.example.com") is RefusalReason.DENIED_HOST
    assert reason(AppPolicy(APP, platform_deny=("example.com",)), "example.com", 443) is (
        RefusalReason.DENIED_HOST
    )
    assert reason(POLICY, "a.tiles.example.org") is None


def test_a_platform_allow_entry_does_not_cover_a_wider_declaration() -> None:
    app = APP.model_copy(update={"declared": ("*.example.io:443",), "approved": ()})
    narrow = AppPolicy(app, platform_allow=("cdn.example.io:443",))
    assert reason(narrow, "cdn.example.io") is RefusalReason.NOT_APPROVED


def resolver(answers: dict[str, list[str]]) -> Resolver:
    return Resolver(
        {name: tuple(ipaddress.ip_address(a) for a in addrs) for name, addrs in answers.items()},
        use_dns=False,
    )


@pytest.mark.parametrize(
    ("answers", "expected"),
    [
        (["93.184.215.14"], None),
        (["2606:2800:21f:cb07:6820:80da:af6b:8b2c"], None),
        (["127.0.0.1"], "loopback"),
        (["127.53.0.1"], "loopback"),
        (["169.254.169.254"], "link-local (cloud metadata)"),
        (["::ffff:10.0.0.1"], "private"),
        (["::ffff:169.254.169.254"], "link-local"),
        (["::ffff:127.0.0.1"], "loopback"),
        (["::127.0.0.1"], "loopback"),  # IPv4-compatible
        (["64:ff9b::a9fe:a9fe"], "link-local"),  # NAT64 of 169.254.169.254
        (["2002:a9fe:a9fe::1"], "link-local"),  # 6to4 of 169.254.169.254
        (["fd00:ec2::254"], "unique local"),  # a cloud's IPv6 metadata address
        (["::1"], "loopback"),
        (["fe80::1"], "link-local"),
        (["10.1.2.3"], "private"),
        (["172.31.255.255"], "private"),
        (["192.168.1.1"], "private"),
        (["100.64.0.1"], "carrier-grade NAT"),
        (["0.0.0.0"], "this network"),
        (["224.0.0.1"], "multicast"),
        (["255.255.255.255"], "reserved"),
        (["2001:2::1"], "not globally routable"),  # benchmarking: only ipaddress knows it
        (["2001:20::1"], "not globally routable"),  # ORCHIDv2
        (["93.184.215.14", "10.0.0.1"], "private"),  # one inside address refuses the name
        (["10.0.0.1", "93.184.215.14"], "private"),
    ],
)
async def test_the_proxy_checks_every_address_a_name_resolves_to(
    answers: list[str], expected: str | None
) -> None:
    outcome = await resolve_checked(resolver({"api.example.com": answers}), "api.example.com", 443)
    if expected is None:
        assert outcome == tuple(ipaddress.ip_address(a) for a in answers)
    else:
        assert isinstance(outcome, Refusal)
        assert outcome.reason is RefusalReason.DENIED_ADDRESS
        assert expected in outcome.detail


async def test_a_name_it_cannot_resolve_is_refused() -> None:
    outcome = await resolve_checked(resolver({}), "api.example.com", 443)
    assert isinstance(outcome, Refusal) and outcome.reason is RefusalReason.UNRESOLVABLE


def test_the_simulated_internet_is_narrow() -> None:
    simulated = networks(["10.213.0.0/30"])
    inside: IPAddress = ipaddress.ip_address("10.213.0.2")
    assert denial(inside, simulated) is None
    assert denial(inside) is not None
    assert denial(ipaddress.ip_address("10.213.0.6"), simulated) is not None
    assert denial(ipaddress.ip_address("169.254.169.254"), simulated) is not None
    for wide in ("10.0.0.0/8", "127.0.0.0/30", "169.254.169.252/30", "8.8.8.0/30", "::1/128"):
        with pytest.raises(ValidationError):
            ProxyConfig(decision_log="/x", simulated_internet=(wide,))


def test_hosts_files_map_names_to_every_address() -> None:
    parsed = parse_hosts_file(
        "# test upstreams\n10.213.0.2 api.example.com  Two.Example.com\n::1 api.example.com\n"
    )
    assert parsed["api.example.com"] == (
        ipaddress.ip_address("10.213.0.2"),
        ipaddress.ip_address("::1"),
    )
    assert "two.example.com" in parsed


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_connections_per_minute_and_open_connections_are_bounded() -> None:
    clock = Clock()
    budget = AppBudget(EgressLimits(connections_per_minute=3, max_concurrent=2), clock)
    assert budget.admit() is None and budget.admit() is None
    assert budget.admit() is RefusalReason.RATE_LIMITED  # two open: the third waits
    budget.release()
    assert budget.admit() is None
    budget.release()
    budget.release()
    assert budget.admit() is RefusalReason.RATE_LIMITED  # three started this minute
    clock.now += 61
    assert budget.admit() is None


def test_bytes_per_hour_cut_the_connection_and_refuse_new_ones() -> None:
    clock = Clock()
    budget = AppBudget(EgressLimits(bytes_per_hour=10_000), clock)
    assert budget.admit() is None
    assert budget.charge(6_000)
    assert not budget.charge(6_000)  # over: the proxy cuts this tunnel
    budget.release()
    assert budget.admit() is RefusalReason.BYTE_LIMIT
    clock.now += 1800
    assert budget.admit() is RefusalReason.BYTE_LIMIT  # still inside the hour
    clock.now += 1801
    assert budget.admit() is None

"""The address deny-list: where no app connection may go, whatever DNS answered.

Checked on every address a name resolves to (the proxy resolves names itself),
so a name rebinding to an internal address is refused like the address
itself. An address that carries an IPv4 address inside it (IPv4-mapped,
IPv4-compatible, NAT64, 6to4, Teredo) is judged by that IPv4 address too.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

ALWAYS_DENIED: tuple[tuple[str, str], ...] = (
    ("0.0.0.0/8", "this network"),
    ("10.0.0.0/8", "private"),
    ("100.64.0.0/10", "carrier-grade NAT"),
    ("127.0.0.0/8", "loopback"),
    ("169.254.0.0/16", "link-local (cloud metadata)"),
    ("172.16.0.0/12", "private"),
    ("192.0.0.0/24", "IETF protocol assignments"),
    ("192.0.2.0/24", "documentation"),
    ("192.88.99.0/24", "6to4 relay anycast"),
    ("192.168.0.0/16", "private"),
    ("198.18.0.0/15", "benchmarking"),
    ("198.51.100.0/24", "documentation"),
    ("203.0.113.0/24", "documentation"),
    ("224.0.0.0/4", "multicast"),
    ("240.0.0.0/4", "reserved"),
    ("::/128", "unspecified"),
    ("::1/128", "loopback"),
    ("64:ff9b:1::/48", "local-use NAT64"),
    ("100::/64", "discard-only"),
    ("2001:db8::/32", "documentation"),
    ("fc00::/7", "unique local (cloud metadata, e.g. fd00:ec2::254)"),
    ("fe80::/10", "link-local"),
    ("fec0::/10", "site-local"),
    ("ff00::/8", "multicast"),
)
"""Networks no app may reach (the issue's "private, loopback, link-local and metadata
ranges"); anything else :mod:`ipaddress` does not call global is refused too."""

_DENIED = tuple((ipaddress.ip_network(net), why) for net, why in ALWAYS_DENIED)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries (mapped, compatible, NAT64, 6to4, Teredo)."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    packed = address.packed
    if packed[:12] == bytes(12) and int(address) > 1:  # IPv4-compatible ::a.b.c.d
        return ipaddress.IPv4Address(packed[12:])
    return None


def denial(address: IPAddress, simulated_internet: Iterable[IPNetwork] = ()) -> str | None:
    """Why ``address`` may not be reached, or None when it is a public address.

    ``simulated_internet`` lists private networks tests stand in for the
    internet with; they are never loopback, link-local or larger than /24
    (:class:`schemas.egress.ProxyConfig` checks that).
    """
    if isinstance(address, ipaddress.IPv6Address):
        inner = embedded_ipv4(address)
        if inner is not None:
            why = denial(inner, simulated_internet)
            if why is not None:
                return f"{why}, inside {address}"
    if any(address in net for net in simulated_internet):
        return None
    for net, why in _DENIED:
        if address.version == net.version and address in net:
            return f"{why} ({net})"
    if not address.is_global:
        return "not globally routable"
    return None

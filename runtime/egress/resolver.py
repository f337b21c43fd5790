"""Name resolution done by the proxy itself (never by the app).

Names come from an optional ``/etc/hosts``-style file first (tests point
names at upstream servers in their network namespaces; a platform may pin its
upstreams), then, unless that is turned off, from the system resolver.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Mapping
from pathlib import Path

from runtime.egress.addresses import IPAddress


class ResolutionError(LookupError):
    """The name has no address (or the resolver failed)."""


def parse_hosts_file(text: str) -> dict[str, tuple[IPAddress, ...]]:
    """``address name [name...]`` lines into name -> addresses (in file order)."""
    names: dict[str, list[IPAddress]] = {}
    for line in text.splitlines():
        fields = line.split("#", 1)[0].split()
        if len(fields) < 2:
            continue
        address = ipaddress.ip_address(fields[0])
        for name in fields[1:]:
            names.setdefault(name.lower(), []).append(address)
    return {name: tuple(addresses) for name, addresses in names.items()}


class Resolver:
    """Resolves a host name to every address it has (the caller checks them all)."""

    def __init__(
        self,
        overrides: Mapping[str, tuple[IPAddress, ...]] | None = None,
        *,
        use_dns: bool = True,
        timeout_s: float = 5.0,
    ) -> None:
        self._overrides = dict(overrides or {})
        self._use_dns = use_dns
        self._timeout_s = timeout_s

    @classmethod
    def from_file(cls, path: Path | None, *, use_dns: bool = True) -> Resolver:
        """A resolver reading ``path`` (if any) before DNS."""
        overrides = parse_hosts_file(path.read_text()) if path is not None else {}
        return cls(overrides, use_dns=use_dns)

    async def resolve(self, host: str, port: int) -> tuple[IPAddress, ...]:
        """Every address of ``host``, without duplicates, in the resolver's order."""
        if host in self._overrides:
            return self._overrides[host]
        if not self._use_dns:
            raise ResolutionError(f"{host} is not in the proxy's hosts file")
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self._timeout_s):
                infos = await loop.getaddrinfo(
                    host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
                )
        except (OSError, TimeoutError) as exc:
            raise ResolutionError(f"{host}: {exc}") from None
        found: list[IPAddress] = []
        for _family, _type, _proto, _canon, sockaddr in infos:
            address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
            if address not in found:
                found.append(address)
        if not found:
            raise ResolutionError(f"{host} has no address")
        return tuple(found)

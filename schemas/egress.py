"""Egress: the hosts an app declares, and the proxy's configuration and decisions.

An app declares the ``host:port`` pairs it needs in ``microapp.toml``
(``egress = ["api.example.com:443"]``). A declared host is a DNS name, never
an IP literal; the only wildcard is a whole leading label (``*.example.com``
matches ``a.example.com``, neither ``example.com`` nor ``a.b.example.com``,
as in a TLS certificate). The proxy (``runtime/egress``) allows a connection
only to a target the release declared and an operator approved (or the
platform allows), and only when every address the name resolves to is public.
"""

from __future__ import annotations

import ipaddress
import re
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

MAX_EGRESS_TARGETS = 16
"""How many ``host:port`` pairs one app may declare."""

MAX_HOST_LENGTH = 253
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_PORT = re.compile(r"^[1-9][0-9]{0,4}$")


def _is_ip_literal(host: str) -> bool:
    """True for anything a resolver or a socket would take as an address, not a name."""
    candidate = host.strip("[]")
    try:
        ipaddress.ip_address(candidate)
    except ValueError:
        pass
    else:
        return True
    # inet_aton's forms: 127.1, 0x7f.1, 2130706433, 017700000001 (octal).
    parts = candidate.split(".")
    return all(re.fullmatch(r"(0x[0-9a-f]*|[0-9]+)", p) for p in parts if p)


def check_host(host: str, *, wildcard_ok: bool = True) -> str:
    """The host name, or ValueError saying why it cannot be an egress target."""
    if not host:
        raise ValueError("a host name is empty")
    if host != host.lower():
        raise ValueError(f"host {host!r} must be lower case")
    if ":" in host or host.startswith("["):
        raise ValueError(f"host {host!r} is an IP literal; declare a host name")
    if _is_ip_literal(host):
        raise ValueError(f"host {host!r} is an IP literal; declare a host name")
    if len(host) > MAX_HOST_LENGTH:
        raise ValueError(f"host {host[:40]!r}... is longer than {MAX_HOST_LENGTH} characters")
    labels = host.split(".")
    if labels[0] == "*":
        if not wildcard_ok:
            raise ValueError(f"host {host!r}: a wildcard is not a host")
        labels = labels[1:]
        if len(labels) < 2:
            raise ValueError(f"host {host!r}: a wildcard must stand before at least two labels")
    if "*" in host.removeprefix("*."):
        raise ValueError(f"host {host!r}: '*' is allowed only as a whole leading label")
    if len(labels) < 2:
        raise ValueError(f"host {host!r} must be a fully qualified name (a.b), not a bare label")
    for label in labels:
        if not _LABEL.match(label):
            raise ValueError(
                f"host {host!r}: label {label!r} must be 1-63 of a-z, 0-9 and '-' "
                "(not at either end); use punycode (xn--) for other scripts"
            )
    if labels[-1].isdigit():
        raise ValueError(f"host {host!r}: the last label cannot be numeric")
    return host


def check_port(text: str) -> int:
    """A TCP port 1-65535 written in decimal without leading zeros, or ValueError."""
    if not _PORT.match(text) or int(text) > 65535:
        raise ValueError(f"port {text!r} must be a number from 1 to 65535")
    return int(text)


class EgressTarget(BaseModel):
    """One declared ``host:port``; ``host`` may start with the ``*.`` wildcard label."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str
    port: int = Field(ge=1, le=65535)

    @classmethod
    def parse(cls, text: str) -> EgressTarget:
        """``host:port`` into a target, or ValueError saying what is wrong."""
        if not isinstance(text, str):
            raise ValueError("an egress entry must be a string 'host:port'")
        host, sep, port = text.rpartition(":")
        if not sep or not host:
            if _is_ip_literal(text.lower()):
                raise ValueError(f"egress {text!r} is an IP literal; declare a host name")
            raise ValueError(f"egress {text!r} must be 'host:port' (e.g. 'api.example.com:443')")
        if ":" in host or host.startswith("["):
            raise ValueError(f"egress {text!r} is an IP literal; declare a host name")
        return cls(host=check_host(host), port=check_port(port))

    @property
    def wildcard(self) -> bool:
        """True for a ``*.`` pattern."""
        return self.host.startswith("*.")

    def matches(self, host: str, port: int) -> bool:
        """Whether a requested (lower-cased) ``host:port`` is this target."""
        if port != self.port:
            return False
        if not self.wildcard:
            return host == self.host
        first, dot, rest = host.partition(".")
        return bool(dot) and first not in ("", "*") and rest == self.host[2:]

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


def _check_declared(value: tuple[str, ...]) -> tuple[str, ...]:
    if len(value) > MAX_EGRESS_TARGETS:
        raise ValueError(f"egress lists {len(value)} hosts; the limit is {MAX_EGRESS_TARGETS}")
    seen: set[str] = set()
    for entry in value:
        target = str(EgressTarget.parse(entry))
        if target in seen:
            raise ValueError(f"egress lists {entry!r} twice")
        seen.add(target)
    return value


DeclaredEgress = Annotated[tuple[str, ...], AfterValidator(_check_declared)]
"""The manifest's ``egress`` list: valid ``host:port`` strings, bounded, no duplicates."""


def targets(declared: tuple[str, ...]) -> tuple[EgressTarget, ...]:
    """The parsed targets of an already validated ``egress`` list."""
    return tuple(EgressTarget.parse(entry) for entry in declared)


class RefusalReason(StrEnum):
    """Why the proxy refused a connection (the audit's ``reason``)."""

    BAD_REQUEST = "bad_request"
    """Not an HTTP request the proxy serves (malformed, or a method other than CONNECT
    and absolute-form HTTP)."""
    IP_LITERAL = "ip_literal"
    """An address instead of a name: the deny-list needs names it resolves itself."""
    INVALID_HOST = "invalid_host"
    NOT_DECLARED = "not_declared"
    """The release did not declare this ``host:port``."""
    NOT_APPROVED = "not_approved"
    """Declared, but not approved for this app (nor on ``MB_EGRESS_ALLOW``)."""
    DENIED_HOST = "denied_host"
    """On the platform's deny-list (``MB_EGRESS_DENY``)."""
    DENIED_ADDRESS = "denied_address"
    """The name resolves to a loopback, private, link-local, metadata or other
    non-public address (any one of its addresses is enough)."""
    UNRESOLVABLE = "unresolvable"
    RATE_LIMITED = "rate_limited"
    BYTE_LIMIT = "byte_limit"
    UPSTREAM_FAILED = "upstream_failed"
    """Allowed, but the upstream could not be reached."""


class EgressLimits(BaseModel):
    """Per-app budgets the proxy holds (per rolling window)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    connections_per_minute: int = Field(default=120, ge=1, le=100_000)
    bytes_per_hour: int = Field(default=256 * 1024 * 1024, ge=1024)
    max_concurrent: int = Field(default=32, ge=1, le=10_000)


class AppEgress(BaseModel):
    """What the proxy knows of one app instance: where it listens for it, what it allows.

    Two instances of one app (the old and the new release during a deploy) each have
    their own socket and list; the app's budgets are shared by all its instances.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    app_id: str = Field(min_length=1, max_length=80)
    instance_id: str = Field(default="", max_length=120, description="the runtime's instance")
    version: int = Field(ge=0, description="the release whose egress list this is")
    socket_path: str = Field(description="host path of the unix socket bound into the app")
    declared: tuple[str, ...] = ()
    approved: tuple[str, ...] = Field(
        default=(), description="declared targets an operator approved for this app"
    )
    limits: EgressLimits = EgressLimits()

    @model_validator(mode="after")
    def _parse_all(self) -> AppEgress:
        _check_declared(self.declared)
        for entry in self.approved:
            EgressTarget.parse(entry)
        return self


class ProxyConfig(BaseModel):
    """The egress proxy's configuration file (``python -m runtime.egress CONFIG``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    decision_log: str = Field(description="JSON lines, one per decision (appended)")
    apps: tuple[AppEgress, ...] = ()
    platform_allow: tuple[str, ...] = Field(
        default=(), description="targets allowed to every app that declares them (MB_EGRESS_ALLOW)"
    )
    platform_deny: tuple[str, ...] = Field(
        default=(),
        description="host names or *.patterns refused whatever else allows them (MB_EGRESS_DENY)",
    )
    hosts_file: str | None = Field(
        default=None,
        description="names resolved from this /etc/hosts-style file instead of DNS "
        "(tests; a platform pinning its upstreams)",
    )
    use_dns: bool = Field(
        default=True, description="resolve names missing from hosts_file with the system's DNS"
    )
    simulated_internet: tuple[str, ...] = Field(
        default=(),
        description="TESTS ONLY: private networks (at most /24 each, never loopback or "
        "link-local) the proxy treats as public, where tests simulate upstream hosts",
    )
    generation: int = Field(
        default=0, ge=0, description="written to <config>.applied once the proxy serves it"
    )
    connect_timeout_s: float = Field(default=10.0, gt=0, le=120)
    idle_timeout_s: float = Field(default=300.0, gt=0, le=86_400)

    @model_validator(mode="after")
    def _checked(self) -> ProxyConfig:
        for entry in self.platform_allow:
            EgressTarget.parse(entry)
        for host in self.platform_deny:
            check_host(host)
        sockets = [a.socket_path for a in self.apps]
        if len(sockets) != len(set(sockets)):
            raise ValueError("two instances share an egress socket")
        for net in self.simulated_internet:
            network = ipaddress.ip_network(net)
            if network.num_addresses > 256 or not network.is_private:
                raise ValueError(f"simulated_internet {net}: a private network of at most 256")
            if network.is_loopback or network.is_link_local:
                raise ValueError(f"simulated_internet {net}: never loopback or link-local")
        return self

    @classmethod
    def load(cls, path: Path) -> ProxyConfig:
        """Read and validate a configuration file."""
        return cls.model_validate_json(path.read_bytes())


class EgressDecision(BaseModel):
    """One line of the decision log: an allowed connection (when it ends) or a refusal."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    at: float = Field(description="Unix time of the decision")
    app_id: str
    version: int
    host: str = Field(description="as requested (truncated to 255 characters)")
    port: int
    method: Literal["CONNECT", "HTTP", "?"]
    allowed: bool
    reason: RefusalReason | None = None
    detail: str = ""
    address: str | None = Field(default=None, description="the address connected to")
    bytes_up: int = 0
    bytes_down: int = 0

"""The egress decision for one request: which app may reach which ``host:port``.

In order (the first refusal wins, and is what the audit records):

1. the request names a host, not an IP literal (the deny-list needs a name the
   proxy resolves itself) — ``ip_literal``, ``invalid_host``;
2. the platform's deny-list (``MB_EGRESS_DENY``) — ``denied_host``;
3. the app's release declared it — ``not_declared``;
4. an operator approved that declaration for the app, or the platform's allow-list
   (``MB_EGRESS_ALLOW``) covers it — ``not_approved``;
5. the app's budgets — ``rate_limited``, ``byte_limit`` (:mod:`runtime.egress.limits`);
6. the proxy resolves the name, and *every* address is public — ``unresolvable``,
   ``denied_address`` (:mod:`runtime.egress.addresses`). The connection then goes to
   one of exactly those addresses.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from runtime.egress.addresses import IPAddress, IPNetwork, denial
from runtime.egress.resolver import ResolutionError, Resolver
from schemas.egress import AppEgress, EgressTarget, RefusalReason, check_host, targets


@dataclass(frozen=True)
class Refusal:
    """A refused request: the audited reason and a human detail."""

    reason: RefusalReason
    detail: str


def _is_literal(host: str) -> bool:
    try:
        check_host(host, wildcard_ok=False)
    except ValueError as exc:
        return "IP literal" in str(exc)
    return False


def normalise_host(raw: str) -> str:
    """The requested host as matched: lower case, one trailing dot dropped."""
    host = raw.strip().lower()
    return host[:-1] if host.endswith(".") and not host.endswith("..") else host


def denied_by_platform(host: str, deny: Iterable[str]) -> str | None:
    """The deny-list entry that covers ``host`` (``*.x`` covers x and every name under it)."""
    for entry in deny:
        if entry.startswith("*."):
            if host == entry[2:] or host.endswith(entry[1:]):
                return entry
        elif host == entry:
            return entry
    return None


def platform_allows(declared: EgressTarget, allow: Sequence[EgressTarget]) -> bool:
    """Whether the platform's allow-list covers a declared target (needing no approval)."""
    return any(
        entry == declared or (entry.wildcard and entry.matches(declared.host, declared.port))
        for entry in allow
    )


class AppPolicy:
    """One app's release as the proxy applies it: declared, approved, platform lists."""

    def __init__(
        self,
        app: AppEgress,
        *,
        platform_allow: Sequence[str] = (),
        platform_deny: Sequence[str] = (),
    ) -> None:
        self.app = app
        self._declared = targets(app.declared)
        approved = set(targets(app.approved))
        allow = targets(tuple(platform_allow))
        self._allowed = tuple(
            t for t in self._declared if t in approved or platform_allows(t, allow)
        )
        self._deny = tuple(platform_deny)

    def check(self, raw_host: str, port: int) -> Refusal | None:
        """Steps 1-4 of the decision (no I/O); None when the request may go on."""
        host = normalise_host(raw_host)
        if host.startswith("[") or ":" in host or _is_literal(host):
            return Refusal(RefusalReason.IP_LITERAL, f"{raw_host!r} is an address, not a name")
        try:
            check_host(host, wildcard_ok=False)
        except ValueError as exc:
            return Refusal(RefusalReason.INVALID_HOST, str(exc))
        entry = denied_by_platform(host, self._deny)
        if entry is not None:
            return Refusal(RefusalReason.DENIED_HOST, f"on the platform's deny-list ({entry})")
        if not any(t.matches(host, port) for t in self._declared):
            return Refusal(
                RefusalReason.NOT_DECLARED,
                f"release {self.app.version} does not declare {host}:{port}",
            )
        if not any(t.matches(host, port) for t in self._allowed):
            return Refusal(
                RefusalReason.NOT_APPROVED,
                f"{host}:{port} is declared but not approved for {self.app.app_id}",
            )
        return None


async def resolve_checked(
    resolver: Resolver, host: str, port: int, simulated_internet: Sequence[IPNetwork] = ()
) -> tuple[IPAddress, ...] | Refusal:
    """Step 6: the addresses to connect to, or the refusal (one bad address refuses all)."""
    try:
        addresses = await resolver.resolve(normalise_host(host), port)
    except ResolutionError as exc:
        return Refusal(RefusalReason.UNRESOLVABLE, str(exc))
    for address in addresses:
        why = denial(address, simulated_internet)
        if why is not None:
            return Refusal(RefusalReason.DENIED_ADDRESS, f"{host} resolves to {address}: {why}")
    return addresses


def networks(entries: Iterable[str]) -> tuple[IPNetwork, ...]:
    """Parsed networks (of an already validated configuration)."""
    return tuple(ipaddress.ip_network(e) for e in entries)

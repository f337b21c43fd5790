"""Placement: which runtime host gets a release.

Only live (fresh heartbeat), active hosts qualify, and only those with room: fewer
apps than their ``max_apps`` and memory left for one more app at their per-app
limit. Among those, a preferred host wins (a rollback or refresh prefers the host
the release last ran on: the releases record where each ran, and that host keeps
the release's virtualenv and Docker image, so it starts from cache); otherwise the
least loaded (smallest share of its app slots in use, then fewest apps, then name).
"""

from __future__ import annotations

from collections.abc import Sequence

from store.runtime_hosts import HostLoad


class NoHostFits(Exception):
    """No runtime host can take the app; the message says why each one cannot."""


def choose_host(hosts: Sequence[HostLoad], prefer: Sequence[str] = ()) -> str:
    """The host for one more app among ``hosts`` (loads exclude the app itself)."""
    fitting = [h for h in hosts if _refusal(h) is None]
    if not fitting:
        why = "; ".join(f"{h.name}: {_refusal(h)}" for h in hosts) or "none is registered"
        raise NoHostFits(f"no runtime host has capacity: {why}")
    by_name = {h.name: h for h in fitting}
    for name in prefer:
        if name in by_name:
            return name
    return min(fitting, key=lambda h: (h.apps / h.capacity.max_apps, h.apps, h.name)).name


def _refusal(host: HostLoad) -> str | None:
    """Why ``host`` cannot take one more app (None: it can)."""
    if host.state != "active":
        return host.state
    if not host.live:
        return f"no heartbeat for {host.heartbeat_age_s:.0f} s"
    cap = host.capacity
    if host.apps >= cap.max_apps:
        return f"{host.apps}/{cap.max_apps} apps"
    free = cap.memory_mib - host.apps * cap.app_memory_mib
    if free < cap.app_memory_mib:
        return f"{free} MiB free, an app needs {cap.app_memory_mib} MiB"
    return None

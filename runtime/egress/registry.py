"""The host's egress proxy configuration, as the runtimes change it.

A runtime *attaches* an instance before starting it (its socket, its
release's declared list, the approved part of it) and *detaches* it when it
stops. Each change rewrites the proxy's configuration file atomically under a
file lock (several workers of one host share it), signals the proxy (SIGHUP,
through the pid it wrote beside the file) and waits until the proxy says it
serves that generation, so an app's first request already finds its socket.
With no proxy running the file is still written: a proxy started later
serves it.
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
import signal
import time
from collections.abc import Awaitable, Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from runtime.egress.policy import platform_allows
from runtime.procfs import alive, signal_exact
from schemas.egress import AppEgress, EgressLimits, ProxyConfig, targets

log = logging.getLogger(__name__)

Approvals = Callable[[str, int, Sequence[str]], Awaitable[Collection[str]]]
"""(app id, version, declared targets the platform's allow-list does not cover) -> the ones
an operator approved for the app (:meth:`store.egress.EgressApprovals.approved`, which also
queues the undecided ones for review)."""


def applied_path(config_path: Path) -> Path:
    """Where the proxy writes the generation it serves."""
    return config_path.with_name(config_path.name + ".applied")


def pid_path(config_path: Path) -> Path:
    """Where the proxy writes ``PID START_TIME`` of itself."""
    return config_path.with_name(config_path.name + ".pid")


class EgressUnavailable(RuntimeError):
    """The proxy did not take the new configuration in time."""


async def no_approvals(app_id: str, version: int, targets: Sequence[str]) -> Collection[str]:  # noqa: ARG001
    """Nothing approved: only the platform's allow-list lets anything through."""
    return ()


class EgressRegistry:
    """Attaches and detaches app instances in the proxy's configuration file."""

    def __init__(
        self,
        config_path: Path,
        base: ProxyConfig,
        *,
        approvals: Approvals = no_approvals,
        limits: EgressLimits | None = None,
        apply_timeout_s: float = 10.0,
    ) -> None:
        self.config_path = config_path
        self._base = base.model_copy(update={"apps": ()})
        self._approvals = approvals
        self._limits = limits or EgressLimits()
        self._apply_timeout_s = apply_timeout_s
        self._lock = asyncio.Lock()

    async def attach(
        self,
        *,
        app_id: str,
        instance_id: str,
        version: int,
        socket_path: Path,
        declared: tuple[str, ...],
    ) -> AppEgress:
        """Serve ``instance_id``'s socket with its release's list; returns its entry."""
        entry = AppEgress(
            app_id=app_id,
            instance_id=instance_id,
            version=version,
            socket_path=str(socket_path),
            declared=declared,
            approved=await self._approved(app_id, version, declared),
            limits=self._limits,
        )
        await self._change(
            lambda apps: [
                *(
                    a
                    for a in apps
                    if a.instance_id != instance_id and a.socket_path != str(socket_path)
                ),
                entry,
            ]
        )
        return entry

    async def detach(self, instance_id: str) -> None:
        """Stop serving ``instance_id`` (idempotent)."""
        await self._change(lambda apps: [a for a in apps if a.instance_id != instance_id])

    async def refresh(self, app_id: str) -> None:
        """Recompute the approved part of every instance of ``app_id`` (after a decision)."""
        current = await asyncio.to_thread(self.current)
        approved = {
            a.instance_id: await self._approved(a.app_id, a.version, a.declared)
            for a in current.apps
            if a.app_id == app_id
        }

        if all(a.approved == approved[a.instance_id] for a in current.apps if a.app_id == app_id):
            return  # nothing changed: no rewrite, no reload

        def update(apps: list[AppEgress]) -> list[AppEgress]:
            return [
                a.model_copy(update={"approved": approved[a.instance_id]})
                if a.instance_id in approved
                else a
                for a in apps
            ]

        await self._change(update)

    async def refresh_all(self) -> None:
        """:meth:`refresh` every app attached (operators decide through the API or ``mb``)."""
        current = await asyncio.to_thread(self.current)
        for app_id in sorted({a.app_id for a in current.apps}):
            await self.refresh(app_id)

    async def retain(self, instance_ids: Collection[str]) -> list[str]:
        """Detach every instance not in ``instance_ids`` (left by a crash); returns them."""
        current = await asyncio.to_thread(self.current)
        gone = [a.instance_id for a in current.apps if a.instance_id not in instance_ids]
        if gone:
            await self._change(lambda apps: [a for a in apps if a.instance_id not in gone])
        return gone

    async def _approved(
        self, app_id: str, version: int, declared: tuple[str, ...]
    ) -> tuple[str, ...]:
        allow = targets(self._base.platform_allow)
        needing = [str(t) for t in targets(declared) if not platform_allows(t, allow)]
        approved = set(await self._approvals(app_id, version, needing))
        return tuple(str(t) for t in targets(declared) if str(t) in approved)

    def current(self) -> ProxyConfig:
        """The configuration as written now (the base one when there is no file yet)."""
        if self.config_path.exists():
            return ProxyConfig.load(self.config_path)
        return self._base

    async def _change(self, mutate: Callable[[list[AppEgress]], list[AppEgress]]) -> None:
        async with self._lock:
            generation = await asyncio.to_thread(self._rewrite, mutate)
            await self._wait_applied(generation)

    def _rewrite(self, mutate: Callable[[list[AppEgress]], list[AppEgress]]) -> int:
        with self._file_lock():
            current = self.current()
            config = self._base.model_copy(
                update={
                    "apps": tuple(mutate(list(current.apps))),
                    "generation": current.generation + 1,
                }
            )
            ProxyConfig.model_validate(config.model_dump())  # the proxy must accept it
            staging = self.config_path.with_suffix(".tmp")
            staging.write_text(config.model_dump_json(indent=1))
            os.chmod(staging, 0o600)
            staging.replace(self.config_path)
            self._signal(signal.SIGHUP)
            return config.generation

    @contextmanager
    def _file_lock(self) -> Iterator[None]:
        self.config_path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.config_path.with_suffix(".lock"), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def _proxy(self) -> tuple[int, int] | None:
        try:
            pid, start = pid_path(self.config_path).read_text().split()
            return int(pid), int(start)
        except (OSError, ValueError):
            return None

    def _signal(self, sig: signal.Signals) -> bool:
        proxy = self._proxy()
        return proxy is not None and signal_exact(*proxy, sig)

    async def _wait_applied(self, generation: int) -> None:
        if self._proxy() is None:
            log.warning(
                "egress: no proxy runs for %s; it will serve it when started", self.config_path
            )
            return
        deadline = time.monotonic() + self._apply_timeout_s
        while True:
            try:
                served = int(applied_path(self.config_path).read_text())
            except (OSError, ValueError):
                served = -1
            if served >= generation:
                return
            proxy = self._proxy()
            gone = proxy is None or not await asyncio.to_thread(alive, *proxy)
            if gone or time.monotonic() > deadline:
                raise EgressUnavailable(
                    f"the egress proxy did not serve generation {generation} of "
                    f"{self.config_path} within {self._apply_timeout_s:.0f} s"
                )
            await asyncio.sleep(0.02)

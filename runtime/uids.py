"""Host uids for sandboxes: one per app and one per QA run, from a configured range.

Every sandbox used to run as uid 65534, so ``RLIMIT_NPROC`` (a per-uid count
over the whole host) was one budget shared by every tenant: one app holding
its process allowance made every other sandbox's ``exec`` fail with
``EAGAIN``. Now each app (all its instances, across restarts and rollbacks, so
its data directory stays its own) and each QA run gets a uid of its own, and
the group with the same number.

A lease is a file ``<dir>/<uid>=<holder>`` (its content says who took it and
when), created under an exclusive lock on ``<dir>/.lock``, so workers sharing
the directory (every worker of a host must) never hand out one uid twice. A
QA run releases its lease when it ends; an app keeps its lease (renewed by
each start) so that it gets the same uid next time. A uid is handed to a new
holder only when no process on the host runs as it (``/proc``), whatever the
leases say; and a lease is taken over only when the range has no unleased uid
left, nothing runs as its uid and it was not renewed for ``grace_s`` (a start
in progress has renewed it moments ago).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import re
import time
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel

from runtime.locks import file_lock
from schemas.settings import Settings

_HOLDER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,150}$")
_LEASE = re.compile(r"^(\d+)=(.+)$")


class UidRangeExhausted(RuntimeError):
    """Every uid of the range is leased to a holder that may still need it."""


class UidLease(BaseModel):
    """What a lease file says."""

    holder: str
    uid: int
    pid: int
    """The process that took or last renewed the lease."""
    renewed_at: float


@dataclass(frozen=True)
class _Held:
    uid: int
    holder: str
    path: Path


def app_holder(app_id: str) -> str:
    """The lease holder name of an app (all its instances share its uid)."""
    return f"app.{app_id}"


def uids_in_use() -> set[int]:
    """Every uid that some live process on the host has as real, effective, saved or fs uid."""
    used: set[int] = set()
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/status", "rb") as status:
                for line in status:
                    if line.startswith(b"Uid:"):
                        used.update(int(u) for u in line.split()[1:])
                        break
        except OSError:
            continue  # exited meanwhile
    return used


class UidPool:
    """Leases uids ``base .. base + count - 1`` to apps and QA runs (see the module doc)."""

    def __init__(self, lease_dir: Path, *, base: int, count: int, grace_s: float = 600.0) -> None:
        if base < 1000 or count < 1 or base + count > 2**31 - 1:
            raise ValueError(f"sandbox uid range {base}+{count} must lie in 1000..2**31-2")
        self.lease_dir = lease_dir
        self.base = base
        self.count = count
        self.grace_s = grace_s
        # Pools over different directories (several test sessions on one host) start their
        # search at different places, so they seldom even meet on a uid.
        digest = hashlib.sha256(str(lease_dir).encode()).digest()
        self._start = int.from_bytes(digest[:4], "big") % count

    @classmethod
    def from_settings(cls, settings: Settings) -> UidPool:
        """This host's pool (``MB_SANDBOX_UID_BASE``, ``_COUNT``, ``_LEASES``). A pool holds
        no state of its own: every pool over the same directory is the same pool."""
        return cls(
            settings.sandbox_uid_leases or settings.data_path / "uids",
            base=settings.sandbox_uid_base,
            count=settings.sandbox_uid_count,
        )

    async def acquire(self, holder: str) -> int:
        """The holder's uid: its existing lease (renewed) or a new one."""
        if not _HOLDER.match(holder):
            raise ValueError(f"lease holder {holder!r} is not a valid name")
        async with file_lock(self.lease_dir / ".lock"):
            return await asyncio.to_thread(self._acquire_locked, holder)

    async def release(self, holder: str) -> None:
        """Give the holder's uid back (idempotent)."""
        async with file_lock(self.lease_dir / ".lock"):
            for held in await asyncio.to_thread(self._held):
                if held.holder == holder:
                    held.path.unlink(missing_ok=True)

    @contextlib.asynccontextmanager
    async def lease(self, holder: str) -> AsyncIterator[int]:
        """A uid for the duration of the block (a QA run)."""
        uid = await self.acquire(holder)
        try:
            yield uid
        finally:
            await self.release(holder)

    async def held(self) -> dict[str, int]:
        """Holder -> uid of every current lease."""
        return {h.holder: h.uid for h in await asyncio.to_thread(self._held)}

    # -- blocking, under the lock --------------------------------------------

    def _held(self) -> list[_Held]:
        found = []
        with contextlib.suppress(FileNotFoundError):
            for entry in os.scandir(self.lease_dir):
                match = _LEASE.match(entry.name)
                if match:
                    uid = int(match.group(1))
                    found.append(_Held(uid, match.group(2), Path(entry.path)))
        return found

    def _write(self, uid: int, holder: str) -> None:
        lease = UidLease(holder=holder, uid=uid, pid=os.getpid(), renewed_at=time.time())
        path = self.lease_dir / f"{uid}={holder}"
        tmp = path.with_name(f".{uid}.{os.getpid()}.tmp")
        tmp.write_text(lease.model_dump_json())
        tmp.replace(path)

    def _acquire_locked(self, holder: str) -> int:
        self.lease_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        held = self._held()
        for h in held:
            if h.holder != holder:
                continue
            if self._in_range(h.uid):
                self._write(h.uid, holder)  # renewed: not taken over while it starts
                return h.uid
            h.path.unlink(missing_ok=True)  # the range was changed since
        busy = uids_in_use()
        leased = {h.uid for h in held}
        for uid in self._candidates():
            if uid not in leased and uid not in busy:
                self._write(uid, holder)
                return uid
        for stale in self._stale(held, busy):
            stale.path.unlink(missing_ok=True)
            self._write(stale.uid, holder)
            return stale.uid
        raise UidRangeExhausted(
            f"all {self.count} sandbox uids ({self.base}..{self.base + self.count - 1}) are "
            "in use: raise MB_SANDBOX_UID_COUNT or stop unused apps"
        )

    def _in_range(self, uid: int) -> bool:
        return self.base <= uid < self.base + self.count

    def _candidates(self) -> Iterable[int]:
        for i in range(self.count):
            yield self.base + (self._start + i) % self.count

    def _stale(self, held: list[_Held], busy: set[int]) -> list[_Held]:
        """Leases nothing runs under and nobody renewed within the grace period, oldest first."""
        now = time.time()
        aged: list[tuple[float, _Held]] = []
        for h in held:
            if h.uid in busy or not self._in_range(h.uid):
                continue
            try:
                lease = UidLease.model_validate_json(h.path.read_text())
            except (OSError, ValueError):
                continue
            if now - lease.renewed_at >= self.grace_s:
                aged.append((lease.renewed_at, h))
        return [h for _, h in sorted(aged, key=lambda item: item[0])]

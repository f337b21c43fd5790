"""Resource limits of a sandbox: its own cgroup when the host allows, rlimits always.

Each sandbox gets a cgroup named after it under an ``mb/`` parent nested in
the worker's own cgroup (per hierarchy on cgroup v1: ``memory``, ``pids``,
``cpu``; one directory on v2). Nesting keeps the sandboxes inside whatever
the worker itself is limited by, and needs no write access above it.

The sandbox enters its cgroup *before* bwrap starts: the launch command is a
tiny ``sh`` that writes its own pid to each ``cgroup.procs`` and then execs
``prlimit ... -- bwrap ...``, so every process of the sandbox is born inside
the cgroup and none can escape it. ``prlimit`` sets the rlimits on the same
process; they are inherited by bwrap and, after ``setpriv`` drops to the
sandbox uid, start to bind (root is exempt from ``RLIMIT_NPROC``).

The process limit is the pids cgroup: it counts the sandbox's own processes
and threads and nothing else. ``RLIMIT_NPROC`` counts every process of the
sandbox's uid on the host; each app and QA run has a uid of its own
(:mod:`runtime.uids`), so it is only a backstop, set to room for a few
instances of one app (old and new side by side during a deploy or rollback),
so that one instance holding its whole allowance cannot stop the next from
starting. Where no pids cgroup is available it is the limit itself.

``RLIMIT_AS`` (address space) stands in for the memory cgroup only when that
is unavailable: it counts reserved-but-unused memory too (thread stacks,
malloc arenas), so it is set with headroom above the memory budget.

Which mechanism applied is recorded in :class:`AppliedLimits`, for the
instance's state and any later health or abuse report.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import re
import shutil
import signal
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict

from schemas.settings import Settings

log = logging.getLogger(__name__)

Mechanism = Literal["cgroup-v1", "cgroup-v2", "rlimit"]

CGROUP_PARENT = "mb"
"""Directory under the worker's own cgroup that holds one cgroup per sandbox."""

BWRAP_HELPERS = 2
"""Processes bwrap itself keeps in the sandbox's cgroup (its monitor and the pid-1 init)."""

INSTANCES_PER_UID = 4
"""Instances of one app that may each hold their whole process allowance at once (one
uid per app): the factor of ``RLIMIT_NPROC``'s backstop over the pids cgroup's limit."""

CFS_PERIOD_US = 100_000
CONTROLLERS = ("memory", "pids", "cpu")

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")

# Runs as the sandbox's first process: join each cgroup given before "--", then exec the rest.
_JOIN_SCRIPT = 'set -e; while [ "$1" != -- ]; do echo $$ > "$1"; shift; done; shift; exec "$@"'


@dataclass(frozen=True)
class ResourceLimits:
    """What one sandbox may use."""

    memory_mb: int = 512
    pids: int = 128
    """Processes plus threads of the sandbox (uvicorn's thread pool counts)."""
    cpu: float = 1.0
    """CPU cores (a CFS quota; 0.5 = half a core)."""
    nofile: int = 1024
    fsize_mb: int = 1024
    """Largest file the sandbox may write (``/data``, logs, ``/tmp``)."""
    use_cgroups: bool = True
    """False: rlimits only, as on a host without writable cgroups."""

    def __post_init__(self) -> None:
        if min(self.memory_mb, self.pids, self.nofile, self.fsize_mb) < 1 or self.cpu <= 0:
            raise ValueError(f"resource limits must be positive: {self}")

    @classmethod
    def from_settings(cls, settings: Settings) -> ResourceLimits:
        """The per-app limits configured for this host."""
        return cls(memory_mb=settings.app_memory_mb, pids=settings.app_pids, cpu=settings.app_cpu)


class AppliedLimits(BaseModel):
    """How a sandbox's limits are enforced (kept with the instance's state)."""

    model_config = ConfigDict(frozen=True)

    mechanism: Mechanism
    cgroups: tuple[str, ...] = ()
    """The sandbox's cgroup directories (one per v1 hierarchy, or one on v2)."""
    controllers: tuple[str, ...] = ()
    """Limits enforced by cgroups (a subset of memory, pids, cpu)."""
    rlimits: tuple[str, ...] = ()
    """prlimit options applied to the sandbox's first process."""

    def summary(self) -> str:
        """One line for reports, e.g. ``cgroup-v1 (memory, pids, cpu) + rlimits ...``."""
        rl = " ".join(o.removeprefix("--") for o in self.rlimits)
        if self.controllers:
            return f"{self.mechanism} ({', '.join(self.controllers)}) + rlimits {rl}"
        return f"rlimits only: {rl}"


@dataclass(frozen=True)
class _Layout:
    version: Literal[1, 2]
    own: dict[str, Path]
    """Controller -> the worker's own cgroup directory (v2: every controller, same dir)."""


def detect_layout() -> _Layout | None:
    """The cgroup hierarchies holding memory/pids/cpu for this process, if any."""
    try:
        membership = Path("/proc/self/cgroup").read_text().splitlines()
        mounts = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return None
    v1_mounts: dict[str, tuple[str, Path]] = {}
    v2_mount: tuple[str, Path] | None = None
    for line in mounts:
        fields = line.split()
        sep = fields.index("-")
        fstype, superopts = fields[sep + 1], fields[sep + 3].split(",")
        root, mountpoint = fields[3], Path(fields[4])
        if fstype == "cgroup":
            for c in CONTROLLERS:
                if c in superopts:
                    v1_mounts.setdefault(c, (root, mountpoint))
        elif fstype == "cgroup2" and v2_mount is None:
            v2_mount = (root, mountpoint)
    own_v1: dict[str, Path] = {}
    own_v2: Path | None = None
    for line in membership:
        hid, controllers, path = line.split(":", 2)
        for c in controllers.split(","):
            if c in v1_mounts:
                root, mountpoint = v1_mounts[c]
                own_v1[c] = mountpoint / os.path.relpath(path, root)
        if hid == "0" and v2_mount is not None:
            own_v2 = v2_mount[1] / os.path.relpath(path, v2_mount[0])
    if own_v1:
        return _Layout(version=1, own=own_v1)
    if own_v2 is not None:
        try:
            available = (own_v2 / "cgroup.controllers").read_text().split()
        except OSError:
            return None
        own = {c: own_v2 for c in CONTROLLERS if c in available}
        if own:
            return _Layout(version=2, own=own)
    return None


def apply_limits(name: str, limits: ResourceLimits) -> AppliedLimits:
    """Create the sandbox's cgroup (when possible) and choose its rlimits. Blocking.

    A controller whose cgroup cannot be created or configured is left to the
    rlimits; nothing here fails because cgroups are unavailable.
    """
    if not _NAME.match(name):
        raise ValueError(f"cgroup name {name!r} must match {_NAME.pattern}")
    layout = detect_layout() if limits.use_cgroups else None
    cgroups: list[str] = []
    controllers: list[str] = []
    mechanism: Mechanism = "rlimit"
    if layout is not None and layout.version == 1:
        for controller, own in layout.own.items():
            path = own / CGROUP_PARENT / name
            try:
                _make_cgroup(path)
                _configure_v1(controller, path, limits)
            except OSError as exc:
                log.warning("cgroup %s for %s unavailable: %s", controller, name, exc)
                remove_cgroups([str(path)])
                continue
            cgroups.append(str(path))
            controllers.append(controller)
        if controllers:
            mechanism = "cgroup-v1"
    elif layout is not None:
        own = next(iter(layout.own.values()))
        wanted = sorted(layout.own)
        path = own / CGROUP_PARENT / name
        try:
            _enable_v2(own, wanted)
            _make_cgroup(path.parent)
            _enable_v2(path.parent, wanted)
            _make_cgroup(path)
            _configure_v2(path, wanted, limits)
            cgroups, controllers, mechanism = [str(path)], wanted, "cgroup-v2"
        except OSError as exc:
            # Typically EBUSY: the worker's own cgroup holds processes, so v2's
            # "no internal processes" rule forbids delegating controllers below it.
            log.warning("cgroup v2 for %s unavailable: %s", name, exc)
            remove_cgroups([str(path)])
    controllers.sort(key=CONTROLLERS.index)
    return AppliedLimits(
        mechanism=mechanism,
        cgroups=tuple(cgroups),
        controllers=tuple(controllers),
        rlimits=tuple(
            _rlimits(
                limits, memory_cgroup="memory" in controllers, pids_cgroup="pids" in controllers
            )
        ),
    )


def launcher_argv(applied: AppliedLimits) -> list[str]:
    """The prefix that puts the next command into the cgroups, with the rlimits set."""
    prlimit = shutil.which("prlimit") or "/usr/bin/prlimit"
    tail = [prlimit, *applied.rlimits, "--"]
    if not applied.cgroups:
        return tail
    procs = [str(Path(p) / "cgroup.procs") for p in applied.cgroups]
    return ["/bin/sh", "-c", _JOIN_SCRIPT, "mb-join", *procs, "--", *tail]


def cgroup_pids(paths: Sequence[str]) -> set[int]:
    """Pids currently in any of these cgroups (empty when they do not exist)."""
    pids: set[int] = set()
    for path in paths:
        with contextlib.suppress(OSError):
            pids.update(int(p) for p in (Path(path) / "cgroup.procs").read_text().split())
    return pids


def remove_cgroups(paths: Sequence[str], *, timeout_s: float = 5.0) -> list[str]:
    """Kill whatever is left in these cgroups and remove them. Blocking; idempotent.

    Returns the directories that could not be removed (normally none).
    """
    deadline = time.monotonic() + timeout_s
    remaining = [p for p in paths if os.path.isdir(p)]
    while remaining:
        for pid in cgroup_pids(remaining):
            # Only the sandbox's processes are in its cgroup, so killing them is safe.
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        still: list[str] = []
        for path in remaining:
            try:
                os.rmdir(path)
            except FileNotFoundError:
                pass
            except OSError as exc:
                if exc.errno not in (errno.EBUSY, errno.ENOTEMPTY):
                    raise
                still.append(path)
        remaining = still
        if not remaining or time.monotonic() > deadline:
            break
        time.sleep(0.02)
    if remaining:
        log.warning("cgroups not removed (still busy): %s", remaining)
    return remaining


def nproc_limit(limits: ResourceLimits, *, pids_cgroup: bool) -> int:
    """``RLIMIT_NPROC`` of a sandbox: a per-uid backstop where the pids cgroup limits."""
    return limits.pids * INSTANCES_PER_UID if pids_cgroup else limits.pids


def _rlimits(limits: ResourceLimits, *, memory_cgroup: bool, pids_cgroup: bool) -> list[str]:
    mib = 1024 * 1024
    nproc = nproc_limit(limits, pids_cgroup=pids_cgroup)
    opts = [
        f"--nproc={nproc}:{nproc}",
        f"--nofile={limits.nofile}:{limits.nofile}",
        "--core=0:0",
        f"--fsize={limits.fsize_mb * mib}:{limits.fsize_mb * mib}",
    ]
    if not memory_cgroup:
        address_space = (2 * limits.memory_mb + 256) * mib
        opts.append(f"--as={address_space}:{address_space}")
    return opts


def _make_cgroup(path: Path) -> None:
    path.parent.mkdir(exist_ok=True)
    path.mkdir(exist_ok=True)


def _write(path: Path, value: str) -> None:
    with open(path, "w") as f:
        f.write(value)


def _configure_v1(controller: str, path: Path, limits: ResourceLimits) -> None:
    if controller == "memory":
        limit = str(limits.memory_mb * 1024 * 1024)
        _write(path / "memory.limit_in_bytes", limit)
        # memsw (memory + swap) must be set after the memory limit it may not undercut.
        if (path / "memory.memsw.limit_in_bytes").exists():
            _write(path / "memory.memsw.limit_in_bytes", limit)
    elif controller == "pids":
        _write(path / "pids.max", str(limits.pids + BWRAP_HELPERS))
    elif controller == "cpu":
        _write(path / "cpu.cfs_period_us", str(CFS_PERIOD_US))
        _write(path / "cpu.cfs_quota_us", str(max(1000, round(limits.cpu * CFS_PERIOD_US))))


def _enable_v2(path: Path, controllers: list[str]) -> None:
    enabled = (path / "cgroup.subtree_control").read_text().split()
    for c in controllers:
        if c not in enabled:
            _write(path / "cgroup.subtree_control", f"+{c}")


def _configure_v2(path: Path, controllers: list[str], limits: ResourceLimits) -> None:
    if "memory" in controllers:
        _write(path / "memory.max", str(limits.memory_mb * 1024 * 1024))
        if (path / "memory.swap.max").exists():
            _write(path / "memory.swap.max", "0")
    if "pids" in controllers:
        _write(path / "pids.max", str(limits.pids + BWRAP_HELPERS))
    if "cpu" in controllers:
        quota = max(1000, round(limits.cpu * CFS_PERIOD_US))
        _write(path / "cpu.max", f"{quota} {CFS_PERIOD_US}")

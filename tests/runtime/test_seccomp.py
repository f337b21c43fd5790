"""The seccomp policy as resolved from Docker's profile, its two encodings, and the QA
sandbox running under it (the app runtimes are checked in test_runtime_contract.py)."""

from __future__ import annotations

import json
import platform

import pytest

from runtime.seccomp import (
    REFUSED,
    SeccompUnavailable,
    bpf_program,
    docker_profile,
    resolve,
    sandbox_policy,
)
from tests.runtime.support import SYSCALL_PROBE, SYSCALLS_REFUSED, SandboxedPython

x86_64 = pytest.mark.skipif(platform.machine() != "x86_64", reason="x86_64 syscall numbers")

ESCALATION = (
    "unshare",
    "setns",
    "mount",
    "umount2",
    "pivot_root",
    "keyctl",
    "add_key",
    "request_key",
    "bpf",
    "perf_event_open",
    "ptrace",
    "process_vm_readv",
    "process_vm_writev",
    "init_module",
    "finit_module",
    "delete_module",
    "clock_settime",
    "settimeofday",
    "kexec_load",
    "open_by_handle_at",
    "userfaultfd",
)


def test_the_policy_allows_no_escalation_syscall_and_everything_a_python_app_uses() -> None:
    policy = resolve(machine="x86_64", kernel="6.1.0")
    for name in ESCALATION:
        assert not policy.allows(name), name
    for name in ("read", "write", "openat", "mmap", "futex", "epoll_wait", "fork", "execve"):
        assert policy.allows(name), name
    [clone] = [r for r in policy.rules if r.names == ("clone",)]
    namespaces = 0x7E020000  # CLONE_NEWNS | NEWCGROUP | NEWUTS | NEWIPC | NEWUSER | NEWPID | NEWNET
    assert [(a.index, a.op, a.value, a.value_two) for a in clone.args] == [
        (0, "SCMP_CMP_MASKED_EQ", namespaces, 0)
    ]
    [clone3] = [r for r in policy.rules if r.names == ("clone3",)]
    assert (clone3.action, clone3.errno) == ("SCMP_ACT_ERRNO", 38)  # ENOSYS: libc uses clone
    assert policy.sub_architectures == ("SCMP_ARCH_X86", "SCMP_ARCH_X32")


def test_ptrace_stays_refused_where_docker_would_allow_it() -> None:
    """Docker's profile allows ptrace and process_vm_* from kernel 4.8 on: not here."""
    profile = json.loads(
        json.dumps(
            {
                "defaultAction": "SCMP_ACT_ERRNO",
                "defaultErrnoRet": 1,
                "syscalls": [
                    {
                        "names": ["ptrace", "process_vm_readv", "getpid"],
                        "action": "SCMP_ACT_ALLOW",
                        "includes": {"minKernel": "4.8"},
                    },
                    {"names": ["reboot"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["X"]}},
                ],
            }
        )
    )
    policy = resolve(profile, machine="x86_64", kernel="6.18.44-fc")
    assert [r.names for r in policy.rules] == [("getpid",)]
    assert REFUSED >= {"ptrace", "process_vm_readv", "process_vm_writev"}
    assert resolve(profile, machine="x86_64", kernel="4.4.0").rules == ()


def test_a_profile_that_would_allow_by_default_is_refused() -> None:
    with pytest.raises(ValueError, match="EPERM"):
        resolve({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": []}, machine="x86_64")
    with pytest.raises(SeccompUnavailable, match="sparc"):
        resolve(machine="sparc64")


@x86_64
def test_both_encodings_carry_the_same_policy() -> None:
    policy = sandbox_policy()
    profile = json.loads(docker_profile(policy))
    assert (profile["defaultAction"], profile["defaultErrnoRet"]) == ("SCMP_ACT_ERRNO", 1)
    allowed = {
        n for r in profile["syscalls"] if r["action"] == "SCMP_ACT_ALLOW" for n in r["names"]
    }
    assert allowed == {n for r in policy.rules if r.action == "SCMP_ACT_ALLOW" for n in r.names}
    assert not allowed & set(ESCALATION) - {"clone"}
    program = bpf_program()
    assert program and len(program) % 8 == 0  # struct sock_filter: 8 bytes each


@x86_64
@pytest.mark.integration
@pytest.mark.reliability(
    "Escape attempts",
    done="Create namespaces, mount, use keyctl, bpf, ptrace... from a QA run's sandbox",
)
async def test_a_qa_run_cannot_make_namespaces_or_other_escalation_syscalls(
    sandboxed_python: SandboxedPython,
) -> None:
    """The one-shot runner's sandbox gets the same answers as a deployed app."""
    probe = await sandboxed_python(
        SYSCALL_PROBE + "\nimport json\nprint(json.dumps(syscall_probe()))\n"
    )
    assert probe.run.exit_code == 0, probe.output
    assert probe.data == SYSCALLS_REFUSED

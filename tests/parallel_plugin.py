"""How the suite splits across pytest-xdist workers (``make test`` runs ``pytest -n 2``).

A test module is one unit of work: its module-scoped stacks (a PostgreSQL, a
Temporal dev server, workers) are built once, on one worker, and its tests keep
their order. The modules that use what the host has only one of are one unit
together and so run one after another: the Docker engine (named volumes and
image pruning are per app id, not per test) and the egress tests' address pool
for network namespaces (a free subnet is chosen, then configured). Everything
else on the host is already shared safely by concurrent sessions (uid leases,
cgroup and container names tagged with their state directory, free ports).

The longest units go first, so that neither worker is left with a long one at
the end while the other idles.
"""

from __future__ import annotations

from typing import Any

import pytest

HOST_WIDE = (
    "tests/runtime/test_runtime_contract.py",
    "tests/integration/test_zero_downtime.py",
    "tests/runtime/egress/",
)
"""Modules (or directories of them) that run apps in Docker or create network namespaces
(a test parametrized with ``"docker"`` must be in one: collection fails otherwise)."""

_HOST_WIDE_UNIT = "host-wide"
_LONGEST_FIRST = (_HOST_WIDE_UNIT, "tests/faults/", "tests/integration/", "tests/workflows/")


def work_unit(nodeid: str) -> str:
    """The unit of work a test belongs to: its module, or the host-wide modules together."""
    module = nodeid.split("::", 1)[0]
    return _HOST_WIDE_UNIT if module.startswith(HOST_WIDE) else module


def _rank(item: pytest.Item) -> int:
    unit = work_unit(item.nodeid)
    return next(
        (i for i, prefix in enumerate(_LONGEST_FIRST) if unit.startswith(prefix)),
        len(_LONGEST_FIRST),
    )


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        callspec = getattr(item, "callspec", None)
        runs_docker = callspec is not None and "docker" in callspec.params.values()
        if runs_docker and work_unit(item.nodeid) != _HOST_WIDE_UNIT:
            raise pytest.UsageError(
                f"{item.nodeid} runs apps in Docker: add its module to HOST_WIDE"
                " in tests/parallel_plugin.py"
            )
    if hasattr(config, "workerinput"):  # every worker sorts alike, so collections match
        items.sort(key=_rank)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """Units of work as above, in collection order (longest first)."""
    from xdist.scheduler import LoadScopeScheduling

    config.option.loadscopereorder = False
    scheduler = LoadScopeScheduling(config, log)
    scheduler._split_scope = work_unit
    return scheduler

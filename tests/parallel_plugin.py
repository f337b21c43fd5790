"""How the suite splits across pytest-xdist workers (``make test`` runs ``pytest -n 2``).

A test module is one unit of work: its module-scoped stacks (a PostgreSQL, a
Temporal dev server, workers) are built once, on one worker, and its tests keep
their order. The modules that start containers on the host's one Docker engine
are one unit together and so run one after another: Docker's named volumes and
image pruning are per app id, not per test. Everything else on the host is
already shared safely by concurrent sessions (uid leases, cgroup and container
names tagged with their state directory, free ports).

The longest units go first, so that neither worker is left with a long one at
the end while the other idles.
"""

from __future__ import annotations

from typing import Any

import pytest

DOCKER_MODULES = frozenset(
    {
        "tests/runtime/test_runtime_contract.py",
        "tests/integration/test_zero_downtime.py",
    }
)
"""Modules whose tests run apps in Docker (a test parametrized with ``"docker"`` must be in
one: collection fails otherwise)."""

_DOCKER_UNIT = "docker"
_LONGEST_FIRST = (_DOCKER_UNIT, "tests/faults/", "tests/integration/", "tests/workflows/")


def work_unit(nodeid: str) -> str:
    """The unit of work a test belongs to: its module, or the Docker modules together."""
    module = nodeid.split("::", 1)[0]
    return _DOCKER_UNIT if module in DOCKER_MODULES else module


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
        if runs_docker and work_unit(item.nodeid) != _DOCKER_UNIT:
            raise pytest.UsageError(
                f"{item.nodeid} runs apps in Docker: add its module to DOCKER_MODULES"
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

"""pytest plugin: run the collected tests in an order shuffled by ``--mb-shuffle-seed``.

Mounted read-only into the QA sandbox as ``mb_shuffle`` and loaded with
``-p mb_shuffle``; it must import nothing but the standard library and
pytest. Only the order of the items changes: the shuffle uses a private
``random.Random(seed)``, so Python's global ``random`` is never re-seeded and
tests whose flakiness comes from randomness stay as flaky as they are.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import TypeVar

import pytest

T = TypeVar("T")


def shuffled(items: Sequence[T], seed: int) -> list[T]:
    """``items`` in the order the plugin runs them for ``seed``."""
    order = list(items)
    random.Random(seed).shuffle(order)  # noqa: S311 - reproducible order, not a secret
    return order


def pytest_addoption(parser: pytest.Parser) -> None:
    """Register ``--mb-shuffle-seed``."""
    parser.addoption(
        "--mb-shuffle-seed",
        type=int,
        default=None,
        help="run the collected tests in the order shuffled by this seed",
    )


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Shuffle last, after any other plugin has (de)selected or reordered items."""
    seed = config.getoption("mb_shuffle_seed")
    if seed is not None:
        items[:] = shuffled(items, seed)


def pytest_report_header(config: pytest.Config) -> str | None:
    """Say in the output which order this run used."""
    seed = config.getoption("mb_shuffle_seed")
    return None if seed is None else f"mb-shuffle: test order shuffled with seed {seed}"

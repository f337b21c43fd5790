"""Where tests find the offline PyPA advisory snapshot (beside the checkout, never copied in)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import ADVISORY_SNAPSHOT as ADVISORY_SNAPSHOT


def advisory_snapshot() -> Path:
    """The snapshot directory; fails the test (never skips it) when it is missing."""
    if not ADVISORY_SNAPSHOT.is_dir():
        pytest.fail(f"the offline advisory snapshot is missing: {ADVISORY_SNAPSHOT}")
    return ADVISORY_SNAPSHOT

"""Benchmarks: each script prints ratios against a baseline measured in the same run."""

from pathlib import Path
from typing import Any

from schemas.settings import Settings
from temporal.devserver import free_loopback_port

ADVISORY_SNAPSHOT = Path(__file__).resolve().parents[2] / "shared" / "advisories" / "pypa" / "vulns"
"""The offline PyPA advisory snapshot next to the checkout (read in place, never copied)."""


def stack_settings(data_dir: Path, **overrides: Any) -> Settings:
    """Settings for an embedded stack under ``data_dir``, Temporal on free loopback ports."""
    return Settings(
        data_dir=data_dir,
        temporal_port=free_loopback_port(),
        temporal_ui_port=free_loopback_port(),
        **overrides,
    )

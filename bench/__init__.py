"""Benchmarks: each script prints ratios against a baseline measured in the same run."""

from pathlib import Path

ADVISORY_SNAPSHOT = Path(__file__).resolve().parents[2] / "shared" / "advisories" / "pypa" / "vulns"
"""The offline PyPA advisory snapshot next to the checkout (read in place, never copied)."""

"""The proxy's decision log: one JSON line per decision, appended and flushed at once.

The host's worker moves the lines into PostgreSQL (refusals into the audit
trail, allowed connections into per-host counts); the file is the record that
survives the database being away.
"""

from __future__ import annotations

import os
from pathlib import Path

from schemas.egress import EgressDecision


class DecisionLog:
    """Appends decisions to a file (0600), each one line written with one ``write``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)

    def record(self, decision: EgressDecision) -> None:
        """Append one decision (blocking, but one small write to a local file)."""
        os.write(self._fd, decision.model_dump_json(exclude_none=True).encode() + b"\n")

    def close(self) -> None:
        """Close the file."""
        os.close(self._fd)


def read_decisions(path: Path) -> list[EgressDecision]:
    """Every decision in a log (complete lines only)."""
    if not path.exists():
        return []
    lines = path.read_bytes().split(b"\n")
    return [EgressDecision.model_validate_json(line) for line in lines[:-1] if line]

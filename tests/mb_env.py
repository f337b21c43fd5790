"""The environment of an ``mb`` process in a test: our settings cleared, every port it
would listen on free (taken from the settings, so a new server cannot be forgotten)."""

from __future__ import annotations

import os
from pathlib import Path

from schemas.settings import Settings
from temporal.devserver import free_loopback_port

# Ports we connect to rather than listen on.
_NOT_LISTENED_ON = frozenset({"smtp_port"})
LISTENING_PORTS = tuple(
    f"MB_{name.upper()}"
    for name in Settings.model_fields
    if name.endswith("_port") and name not in _NOT_LISTENED_ON
)


def mb_env(data_dir: Path, **settings: str) -> dict[str, str]:
    """``mb`` with its data in ``data_dir`` on free loopback ports; ``settings`` win."""
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("MB_")},
        "MB_DATA_DIR": str(data_dir),
        **{name: str(free_loopback_port()) for name in LISTENING_PORTS},
        "PYTHONPATH": str(Path(__file__).parents[1]),
        "COLUMNS": "200",
        **settings,
    }

"""The environment a test gives a generated bundle's own pytest or mutmut run: ours,
minus what would change how that run behaves (pytest options and plugins meant for
this session, the app's data directory)."""

from __future__ import annotations

import os

_NOT_FOR_BUNDLES = frozenset({"PYTEST_ADDOPTS", "PYTEST_PLUGINS", "MICROAPP_DATA_DIR"})


def bundle_env(**extra: str) -> dict[str, str]:
    """``os.environ`` without this session's pytest settings, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if k not in _NOT_FOR_BUNDLES}
    return {**env, **extra}

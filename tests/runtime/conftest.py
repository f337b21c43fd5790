"""Fixtures for the sandbox runtime tests (real bwrap, no mocks)."""

from tests.runtime.support import (  # noqa: F401 - fixtures
    app_bundle,
    docker_base,
    host_listener,
    pyenv,
    runtime,
    sandboxed_python,
    state_dir,
)

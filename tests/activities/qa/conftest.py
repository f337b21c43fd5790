"""Fixtures for the QA test-runner tests (real bwrap, no mocks)."""

from tests.runtime.support import host_listener, pyenv  # noqa: F401 - fixtures

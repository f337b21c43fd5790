"""Why a runtime could not start something: the host's fault, or the app's."""

from __future__ import annotations


class SandboxStartError(RuntimeError):
    """The sandbox could not be created (a host problem: worth retrying)."""


class AppStartError(SandboxStartError):
    """The app did not come up: it exited during startup or never opened its socket.

    The bundle's fault (retrying will not help); the message ends with the
    tail of the app's log.
    """


class DockerUnavailable(SandboxStartError):
    """The Docker Engine cannot be reached (or refuses): a host problem, worth retrying."""


class BaseImageMissing(AppStartError):
    """The base image is not on this engine: building on it could only try a registry
    pull that cannot succeed, so the start fails at once with the fix."""

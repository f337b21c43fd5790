"""How an app instance is joined to the egress proxy: what is bound in, and where.

The same layout in the sandbox and the container: the instance's egress
directory (holding the proxy's socket for it) at :data:`SOCKET_DIR_MOUNT`, the
stdlib forwarder at :data:`FORWARDER_MOUNT`, run by the app's interpreter in
front of uvicorn, and the proxy variables every HTTP client reads.
"""

from __future__ import annotations

import os
from pathlib import Path

FORWARDER = Path(__file__).resolve().parent.parent / "egress_forwarder.py"
"""The forwarder on the host (standard library only)."""
FORWARDER_MOUNT = "/run/mb/egress_forwarder.py"
SOCKET_DIR_MOUNT = "/run/egress"
EGRESS_SOCKET = "proxy.sock"
PROXY_PORT = 3128
PROXY_URL = f"http://127.0.0.1:{PROXY_PORT}"


def proxy_env() -> dict[str, str]:
    """The app's proxy variables (both spellings: clients differ in which they read)."""
    return {
        "HTTPS_PROXY": PROXY_URL,
        "HTTP_PROXY": PROXY_URL,
        "https_proxy": PROXY_URL,
        "http_proxy": PROXY_URL,
    }


def forwarder_prefix(python: str) -> tuple[str, ...]:
    """The command that runs the forwarder, then ``-m MODULE ARGS`` in the same process."""
    return (python, FORWARDER_MOUNT, str(PROXY_PORT), f"{SOCKET_DIR_MOUNT}/{EGRESS_SOCKET}")


def prepare_egress_dir(egress_dir: Path) -> None:
    """An instance's egress directory: root's, which the app may traverse, never change.

    The app can neither list it nor replace the proxy's socket with a file or a link of
    its own (the root proxy recreates the socket there at each reload). Blocking.
    """
    egress_dir.parent.mkdir(parents=True, exist_ok=True)
    egress_dir.mkdir(exist_ok=True)
    os.chown(egress_dir, 0, 0)
    os.chmod(egress_dir, 0o711)  # noqa: S103 - search only: connect to the socket inside

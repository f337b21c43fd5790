"""How an app instance is joined to the egress proxy: what is bound in, and where.

The same layout in the sandbox and the container: the instance's egress
directory (holding the proxy's socket for it) at :data:`SOCKET_DIR_MOUNT`, the
stdlib forwarder at :data:`FORWARDER_MOUNT`, run by the app's interpreter in
front of uvicorn, and the proxy variables every HTTP client reads.
"""

from __future__ import annotations

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

"""The client's address, as rate limits and the audit log see it.

uvicorn resolves it: the TCP peer, or with ``MB_TRUSTED_PROXIES`` the address a
trusted proxy put in ``X-Forwarded-For`` (see ``api.tls.server_config``).
"""

from __future__ import annotations

import ipaddress

from starlette.requests import HTTPConnection


def client_ip(request: HTTPConnection) -> str | None:
    """The client's IP address; None when there is none, or when a trusted proxy
    forwarded something that is not an address (it is never used as one)."""
    host = request.client.host if request.client else None
    if not host:
        return None
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return None

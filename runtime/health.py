"""Health probes of app instances, over their unix socket."""

from __future__ import annotations

import asyncio

import httpx

from schemas.runtime import HealthCheckResult


async def probe(socket_path: str, path: str, *, timeout_s: float) -> int | None:
    """GET ``path`` through the instance's socket: the HTTP status, or None if unreachable.

    None covers every transport failure (no socket, refused, reset, timeout):
    the caller only needs to know the app did not answer.
    """
    transport = httpx.AsyncHTTPTransport(uds=socket_path)
    async with httpx.AsyncClient(transport=transport, timeout=timeout_s) as client:
        try:
            response = await client.get(f"http://app{path}")
        except httpx.TransportError:
            return None
    return response.status_code


async def wait_healthy(
    socket_path: str,
    path: str,
    attempts: int,
    interval_s: float,
    *,
    timeout_s: float = 2.0,
) -> HealthCheckResult:
    """Probe until a 2xx answer or ``attempts`` probes, ``interval_s`` apart."""
    status: int | None = None
    for attempt in range(1, attempts + 1):
        status = await probe(socket_path, path, timeout_s=timeout_s)
        if status is not None and 200 <= status < 300:
            return HealthCheckResult(
                healthy=True, status_code=status, detail=f"{path} answered {status}"
            )
        if attempt < attempts:
            await asyncio.sleep(interval_s)
    detail = (
        f"{path} answered {status} after {attempts} attempts"
        if status is not None
        else f"no answer on {socket_path} after {attempts} attempts"
    )
    return HealthCheckResult(healthy=False, status_code=status, detail=detail)

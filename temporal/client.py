"""Connecting to Temporal with our encrypting data converter (every client must use it)."""

from __future__ import annotations

from temporalio.client import Client
from temporalio.runtime import Runtime

from schemas.settings import Settings
from temporal.converter import data_converter, payload_codec


async def connect(
    settings: Settings, *, target: str | None = None, runtime: Runtime | None = None
) -> Client:
    """A client for the configured cluster (or the embedded dev server); ``runtime``
    (default: the process's default one) is where its workers' metrics go."""
    return await Client.connect(
        target or settings.temporal_target,
        namespace=settings.temporal_namespace,
        data_converter=data_converter(payload_codec(settings)),
        api_key=settings.temporal_api_key.get_secret_value() if settings.temporal_api_key else None,
        tls=settings.temporal_tls,
        runtime=runtime,
    )

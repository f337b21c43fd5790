"""Sentry for the API and the workers: opt-in by ``MB_SENTRY_DSN``, always scrubbed.

Local variables are never sent, nor request bodies, cookies or credentials
(see ``monitoring.scrub``); each event carries the component and, from the
Temporal interceptor, the workflow, run, app and stage.
"""

from __future__ import annotations

import logging
from typing import Literal

import sentry_sdk
from sentry_sdk.integrations.logging import LoggingIntegration
from sentry_sdk.integrations.stdlib import StdlibIntegration

from monitoring.scrub import scrub_breadcrumb, scrub_event
from schemas.settings import Settings

Component = Literal["api", "worker", "stack"]


def init_sentry(settings: Settings, component: Component) -> bool:
    """Start the SDK when a DSN is configured; returns whether it did."""
    if settings.sentry_dsn is None:
        return False
    sentry_sdk.init(
        dsn=settings.sentry_dsn.get_secret_value(),
        environment=settings.sentry_environment,
        release=settings.sentry_release,
        include_local_variables=False,
        max_request_body_size="never",
        before_send=scrub_event,  # type: ignore[arg-type]
        before_send_transaction=scrub_event,  # type: ignore[arg-type]
        before_breadcrumb=scrub_breadcrumb,
        traces_sample_rate=0.0,
        trace_propagation_targets=[],
        integrations=[LoggingIntegration(level=logging.INFO, event_level=logging.ERROR)],
        # The stdlib integration adds trace variables to every subprocess's environment:
        # sandboxed apps and QA tools must inherit nothing from us.
        disabled_integrations=[StdlibIntegration()],
    )
    sentry_sdk.set_tag("component", component)
    return True

"""Signal inputs the workflows convert themselves, so a bad one is refused, not fatal.

A signal handler typed with a model never sees an input the SDK cannot
convert: the SDK logs and drops it, and nobody learns of it. Our handlers take
the input as a ``RawValue`` and call :func:`accept`, which returns the model or
``None``; a payload the worker's codec refused (sent in clear, tampered) or one
that does not validate is logged and recorded as an incident by an activity
(patch ``record-refused-signals``). The reason never quotes the input.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TypeVar

from pydantic import BaseModel, ValidationError
from temporalio import workflow
from temporalio.common import RawValue, RetryPolicy

with workflow.unsafe.imports_passed_through():
    from schemas.refusals import RefusedSignal
    from temporal import names
    from temporal.refused_payloads import refusal_reason

M = TypeVar("M", bound=BaseModel)

RECORD_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=30),
    maximum_attempts=40,
)
"""An incident write: keep trying through a database outage (about 15 min)."""

_MAX_ERRORS = 3


def refusal(raw: RawValue, model: type[M]) -> M | str:
    """``raw`` as ``model``, or why it cannot be one (without quoting the input)."""
    reason = refusal_reason(raw.payload)
    if reason is not None:
        return f"undecodable payload: {reason}"
    try:
        value = workflow.payload_converter().from_payload(raw.payload, model)
    except ValidationError as err:
        fields = [
            f"{'.'.join(str(part) for part in error['loc']) or model.__name__}: {error['msg']}"
            for error in err.errors(include_url=False, include_input=False)[:_MAX_ERRORS]
        ]
        return f"invalid {model.__name__}: {'; '.join(fields)}"
    except Exception as err:  # an encoding we do not use, a payload that is not JSON
        return f"unreadable input ({type(err).__name__})"
    if not isinstance(value, model):
        return f"not a {model.__name__}"
    return value


async def accept(
    raw: RawValue, model: type[M], *, signal: str, app_id: str, owner_id: str
) -> M | None:
    """The signal's input as ``model``; ``None`` once a bad input is logged and recorded."""
    value = refusal(raw, model)
    if not isinstance(value, str):
        return value
    info = workflow.info()
    workflow.logger.warning("refused a %s signal: %s", signal, value)
    if workflow.patched(names.PATCH_RECORD_REFUSED_SIGNALS):
        await workflow.execute_activity(
            names.ACTIVITY_RECORD_REFUSED_SIGNAL,
            RefusedSignal(
                app_id=app_id,
                owner_id=owner_id,
                workflow_id=info.workflow_id,
                signal=signal,
                reason=value,
                request_id=f"refused-{workflow.uuid4().hex}",
            ),
            task_queue=names.PIPELINE_TASK_QUEUE,
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=RECORD_RETRY,
        )
    return None

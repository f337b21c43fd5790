"""Pipeline metrics, recorded by a worker interceptor through the Temporal SDK's meters.

The interceptor watches what the workers already do and touches neither workflow nor
activity code: a deployment's end (``DeploymentWorkflow``'s result or verdict), each
QA stage's duration and verdict, the gate's verdict, moderation verdicts, and every
switch back to an earlier release (a rollback, by hand or automatic). It records
through ``workflow.metric_meter()`` (replay-safe: a replayed history records nothing,
and no metric is a command) and ``activity.metric_meter()``, so everything lands in
the worker process's Temporal runtime, served as Prometheus text with the SDK's own
metrics (``temporal.client.metrics_runtime``).

Label values are bounded vocabularies (verdicts, stage names, error types of our
contract, ``by_hand``/``automatic``); the SDK adds namespace, task queue and
workflow/activity type. No app id, owner, prompt or reason is ever a label.
"""

from __future__ import annotations

import time
from typing import Any

from temporalio import activity, workflow
from temporalio.exceptions import ApplicationError, FailureError
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig
from temporalio.worker import (
    ActivityInboundInterceptor,
    ExecuteActivityInput,
    ExecuteWorkflowInput,
    Interceptor,
    WorkflowInboundInterceptor,
    WorkflowInterceptorClassInput,
)

with workflow.unsafe.imports_passed_through():
    from schemas.settings import Settings
    from temporal import names
    from temporal.devserver import ensure_port_free

DEPLOYMENTS = "mb_deployments"
DEPLOYMENT_DURATION = "mb_deployment_duration_seconds"
QA_STAGE_DURATION = "mb_qa_stage_duration_seconds"
QA_GATES = "mb_qa_gates"
MODERATION_VERDICTS = "mb_moderation_verdicts"
ROLLBACKS = "mb_rollbacks"

# Deployments and QA stages take seconds to an hour (mutation testing's limit).
DURATION_BUCKETS = (1.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0)
HISTOGRAM_BUCKETS = {DEPLOYMENT_DURATION: DURATION_BUCKETS, QA_STAGE_DURATION: DURATION_BUCKETS}

QA_STAGES = {
    names.ACTIVITY_RUN_TESTS: "tests",
    names.ACTIVITY_RUN_MUTATION: "mutation",
    names.ACTIVITY_RUN_FUZZ: "fuzz",
    names.ACTIVITY_RUN_STATIC: "static",
    names.ACTIVITY_RUN_DEPS: "deps",
}
MODERATION_SUBJECTS = {names.ACTIVITY_MODERATE: "prompt", names.ACTIVITY_MODERATE_BUNDLE: "content"}
VERDICTS = frozenset({"pass", "fail", "allow", "flag", "block"})
DEPLOYMENT_ENDINGS = frozenset(
    {
        names.ERROR_PROMPT_BLOCKED,
        names.ERROR_REVIEW_REJECTED,
        names.ERROR_REVIEW_TIMED_OUT,
        names.ERROR_QA_GATE_FAILED,
        names.ERROR_EVIDENCE_INVALID,
        names.ERROR_APP_START_FAILED,
        names.ERROR_HEALTH_CHECK_FAILED,
        names.ERROR_ROLLED_BACK,
    }
)
ROLLBACK_TRIGGERS = frozenset({"by_hand", "automatic"})


def _verdict(result: object) -> str:
    value = getattr(result, "verdict", None)
    return value if isinstance(value, str) and value in VERDICTS else "other"


def deployment_outcome(err: FailureError | None) -> str:
    """``live``, the verdict's error type (our contract's), or ``error``."""
    if err is None:
        return "live"
    if isinstance(err, ApplicationError) and err.type in DEPLOYMENT_ENDINGS:
        return err.type
    return "error"


class _ActivityInbound(ActivityInboundInterceptor):
    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        kind = activity.info().activity_type
        started = time.monotonic()
        try:
            result = await super().execute_activity(input)
        except BaseException:
            if kind in QA_STAGES:
                self._stage(kind, "error", time.monotonic() - started)
            raise
        if kind in QA_STAGES:
            self._stage(kind, _verdict(result), time.monotonic() - started)
        elif kind == names.ACTIVITY_RECORD_QA_REPORT:
            meter = activity.metric_meter()
            meter.create_counter(QA_GATES, "QA gate verdicts").add(1, {"verdict": _verdict(result)})
        elif kind in MODERATION_SUBJECTS:
            activity.metric_meter().create_counter(
                MODERATION_VERDICTS, "Moderation verdicts, on prompts and on apps' content"
            ).add(1, {"subject": MODERATION_SUBJECTS[kind], "verdict": _verdict(result)})
        elif kind == names.ACTIVITY_SWITCH_TRAFFIC:
            trigger = getattr(input.args[0] if input.args else None, "rollback", None)
            if trigger in ROLLBACK_TRIGGERS:
                activity.metric_meter().create_counter(
                    ROLLBACKS, "Traffic switched back to an earlier release"
                ).add(1, {"trigger": str(trigger)})
        return result

    @staticmethod
    def _stage(kind: str, verdict: str, seconds: float) -> None:
        activity.metric_meter().create_histogram_float(
            QA_STAGE_DURATION, "Time a QA stage took, by stage and verdict", "s"
        ).record(seconds, {"stage": QA_STAGES[kind], "verdict": verdict})


class _WorkflowInbound(WorkflowInboundInterceptor):
    async def execute_workflow(self, input: ExecuteWorkflowInput) -> Any:
        if workflow.info().workflow_type != names.DEPLOYMENT_WORKFLOW_TYPE:
            return await super().execute_workflow(input)
        try:
            result = await super().execute_workflow(input)
        except FailureError as err:  # fails the deployment (anything else retries its task)
            _deployment_ended(deployment_outcome(err))
            raise
        _deployment_ended(deployment_outcome(None))
        return result


def _deployment_ended(outcome: str) -> None:
    meter = workflow.metric_meter()
    attrs = {"outcome": outcome}
    meter.create_counter(DEPLOYMENTS, "Deployments that ended, by outcome").add(1, attrs)
    took = workflow.now() - workflow.info().start_time
    meter.create_histogram_float(
        DEPLOYMENT_DURATION, "Time from a deployment's start to its end (workflow time)", "s"
    ).record(took.total_seconds(), attrs)


class MetricsInterceptor(Interceptor):
    """Add to every worker: ``Worker(..., interceptors=[MetricsInterceptor(), ...])``."""

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _ActivityInbound(super().intercept_activity(next))

    def workflow_interceptor_class(
        self, input: WorkflowInterceptorClassInput
    ) -> type[WorkflowInboundInterceptor] | None:
        return _WorkflowInbound


def metrics_runtime(settings: Settings) -> Runtime:
    """A Temporal runtime whose metrics (the SDK's own: task latencies, slots, polls,
    requests; and the pipeline's above) are served as Prometheus text on
    ``MB_METRICS_HOST``:``MB_WORKER_METRICS_PORT``. One per process: connect the
    workers' client with it."""
    host, port = settings.metrics_host, settings.worker_metrics_port
    ensure_port_free(host, port, "workers' metrics endpoint", "MB_WORKER_METRICS_PORT")
    bind = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    return Runtime(
        telemetry=TelemetryConfig(
            metrics=PrometheusConfig(
                bind_address=bind,
                counters_total_suffix=True,
                durations_as_seconds=True,
                histogram_bucket_overrides=HISTOGRAM_BUCKETS,
            )
        )
    )

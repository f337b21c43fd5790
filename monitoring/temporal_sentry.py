"""A Temporal interceptor reporting failed activities and workflows to Sentry.

Modelled on the Temporal samples' Sentry interceptor, with one difference that
matters here: it never attaches workflow or activity inputs (they hold prompts,
bundle hashes and owners). Events carry tags: workflow id and type, run id,
task queue, the app, and the stage (the activity type, or the workflow's
``MbStage`` search attribute). Replays report nothing.
"""

from __future__ import annotations

from typing import Any

from temporalio import activity, workflow
from temporalio.exceptions import ApplicationError
from temporalio.worker import (
    ActivityInboundInterceptor,
    ExecuteActivityInput,
    ExecuteWorkflowInput,
    Interceptor,
    WorkflowInboundInterceptor,
    WorkflowInterceptorClassInput,
)
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

with workflow.unsafe.imports_passed_through():
    import sentry_sdk

    from temporal import names


def _expected(err: BaseException) -> bool:
    """Verdicts (a blocked prompt, a failed gate) are outcomes, not errors."""
    return isinstance(err, ApplicationError) and err.non_retryable


class _ActivityInbound(ActivityInboundInterceptor):
    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        try:
            return await super().execute_activity(input)
        except Exception as err:
            if not _expected(err):
                info = activity.info()
                first = input.args[0] if input.args else None
                with sentry_sdk.new_scope() as scope:
                    scope.set_tag("temporal.kind", "activity")
                    scope.set_tag("temporal.workflow_id", info.workflow_id)
                    scope.set_tag("temporal.workflow_type", info.workflow_type)
                    scope.set_tag("temporal.run_id", info.workflow_run_id)
                    scope.set_tag("temporal.task_queue", info.task_queue)
                    scope.set_tag("temporal.attempt", info.attempt)
                    scope.set_tag("mb.stage", info.activity_type)
                    app_id = getattr(first, "app_id", None)
                    if isinstance(app_id, str):
                        scope.set_tag("mb.app", app_id)
                    sentry_sdk.capture_exception(err)
            raise


class _WorkflowInbound(WorkflowInboundInterceptor):
    async def execute_workflow(self, input: ExecuteWorkflowInput) -> Any:
        try:
            return await super().execute_workflow(input)
        except Exception as err:
            if not workflow.unsafe.is_replaying() and not _expected(err):
                _report_workflow_failure(err)
            raise


def _report_workflow_failure(err: Exception) -> None:
    info = workflow.info()
    attrs = info.typed_search_attributes
    try:
        with workflow.unsafe.sandbox_unrestricted(), sentry_sdk.new_scope() as scope:
            scope.set_tag("temporal.kind", "workflow")
            scope.set_tag("temporal.workflow_id", info.workflow_id)
            scope.set_tag("temporal.workflow_type", info.workflow_type)
            scope.set_tag("temporal.run_id", info.run_id)
            scope.set_tag("temporal.task_queue", info.task_queue)
            app_id = attrs.get(names.SA_APP_ID)
            stage = attrs.get(names.SA_STAGE)
            if app_id:
                scope.set_tag("mb.app", app_id)
            if stage:
                scope.set_tag("mb.stage", stage)
            sentry_sdk.capture_exception(err)
    except Exception:  # noqa: S110 - reporting must never fail the workflow task
        pass


def sandbox_runner() -> SandboxedWorkflowRunner:
    """The workflow sandbox with ``sentry_sdk`` and ``rich`` passed through: both import
    lazily while reporting or logging (``mb``'s log handler is rich's), and an import
    inside the sandbox fails the workflow task, as a ``workflow.logger`` warning did."""
    return SandboxedWorkflowRunner(
        restrictions=SandboxRestrictions.default.with_passthrough_modules("sentry_sdk", "rich")
    )


class SentryInterceptor(Interceptor):
    """Add to every worker: ``Worker(..., interceptors=[SentryInterceptor()])``."""

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _ActivityInbound(super().intercept_activity(next))

    def workflow_interceptor_class(
        self, input: WorkflowInterceptorClassInput
    ) -> type[WorkflowInboundInterceptor] | None:
        return _WorkflowInbound

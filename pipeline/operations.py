"""Client-side operations on the pipeline, shared by the HTTP API, the CLI and tests.

Each function validates what it can before touching a workflow, so bad input
gets a clear :class:`PipelineRequestError` and changes nothing.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from datetime import timedelta

from temporalio.client import Client, WorkflowHandle
from temporalio.common import SearchAttributePair, TypedSearchAttributes
from temporalio.service import RPCError, RPCStatusCode

from schemas.deployment import (
    AppStatus,
    AppWorkflowInput,
    DeploymentStatus,
    DeployRequest,
    RefreshRequest,
    ReleaseRecord,
    RetireRequest,
    ReviewDecision,
    RollbackRequest,
    Stage,
)
from store.artifacts import ArtifactNotFound
from store.bundle_cache import BundleCache
from temporal import names

# A query is answered by a worker: when none answers, the caller hears so (a 503) in
# seconds instead of waiting out the server's default of a minute.
QUERY_TIMEOUT = timedelta(seconds=10)

log = logging.getLogger(__name__)

_UNANSWERED = frozenset(
    {RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED, RPCStatusCode.CANCELLED}
)


def unanswered(err: RPCError) -> bool:
    """Temporal or its workers are not answering now (down, restarting, or no worker has
    polled the queue recently): worth asking again shortly, not a failure of the request."""
    if err.status in _UNANSWERED:
        return True
    return err.status == RPCStatusCode.FAILED_PRECONDITION and "no poller" in err.message


class PipelineRequestError(ValueError):
    """A request the pipeline refuses; ``status`` is the HTTP status to answer with."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


class AppNotFound(PipelineRequestError):
    """No such app (or not yours: the two are indistinguishable on purpose)."""

    def __init__(self, app_id: str) -> None:
        super().__init__(f"app {app_id!r} not found", 404)


async def request_deployment(
    client: Client,
    app_id: str,
    request: DeployRequest,
    *,
    review_timeout_s: float | None = None,
) -> str:
    """Signal-with-start the app's AppWorkflow; returns the deployment's workflow id."""
    workflow_input = AppWorkflowInput(app_id=app_id, owner_id=request.owner_id)
    if review_timeout_s is not None:
        workflow_input.review_timeout_s = review_timeout_s
    await client.start_workflow(
        names.APP_WORKFLOW_TYPE,
        workflow_input,
        id=names.app_workflow_id(app_id),
        task_queue=names.PIPELINE_TASK_QUEUE,
        start_signal=names.SIGNAL_DEPLOY,
        start_signal_args=[request],
        search_attributes=TypedSearchAttributes(
            [
                SearchAttributePair(names.SA_APP_ID, app_id),
                SearchAttributePair(names.SA_OWNER_ID, request.owner_id),
            ]
        ),
    )
    return names.deployment_workflow_id(app_id, request.request_id)


async def app_status(client: Client, app_id: str) -> AppStatus:
    """The AppWorkflow's ``status`` query; AppNotFound when it does not exist."""
    try:
        status: AppStatus = await _app_handle(client, app_id).query(
            names.QUERY_STATUS, result_type=AppStatus, rpc_timeout=QUERY_TIMEOUT
        )
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            raise AppNotFound(app_id) from None
        raise
    return status


async def app_releases(client: Client, app_id: str) -> list[ReleaseRecord]:
    """The AppWorkflow's ``releases`` query."""
    await app_status(client, app_id)  # AppNotFound first, with the same message
    releases: list[ReleaseRecord] = await _app_handle(client, app_id).query(
        names.QUERY_RELEASES, result_type=list[ReleaseRecord], rpc_timeout=QUERY_TIMEOUT
    )
    return releases


async def request_rollback(client: Client, app_id: str, request: RollbackRequest) -> int:
    """Signal a rollback after checking it can succeed; returns the target version."""
    status = await app_status(client, app_id)
    releases = await app_releases(client, app_id)
    live = status.live.version if status.live else None
    if request.to_version is not None:
        if not any(r.version == request.to_version for r in releases):
            raise PipelineRequestError(
                f"v{request.to_version} is not a release of {app_id} "
                f"(releases: {', '.join(f'v{r.version}' for r in releases) or 'none'})",
                404,
            )
        if request.to_version == live:
            raise PipelineRequestError(f"v{live} is already live", 409)
        target = request.to_version
    else:
        earlier = [r.version for r in releases if live is None or r.version < live]
        if not earlier:
            raise PipelineRequestError(f"{app_id} has no previous release to roll back to", 409)
        target = earlier[-1]
    await _app_handle(client, app_id).signal(names.SIGNAL_ROLLBACK, request)
    return target


async def request_retire(client: Client, app_id: str, request: RetireRequest) -> bool:
    """Signal the AppWorkflow to go offline for good; False if it is not running."""
    try:
        await _app_handle(client, app_id).signal(names.SIGNAL_RETIRE, request)
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            return False
        raise
    return True


async def refresh_if_declared(
    client: Client, bundles: BundleCache, app_id: str, names_changed: list[str], requested_by: str
) -> str | None:
    """After secrets changed: if the live release declares any of them, ask the
    AppWorkflow to roll it onto a new instance; returns the refresh request id."""
    try:
        status = await app_status(client, app_id)
    except AppNotFound:
        return None
    if status.live is None:
        return None
    declared: Sequence[str] | None = status.live.secrets
    if declared is None:  # a release recorded before releases carried their secret names
        try:
            declared = (await bundles.load(status.live.bundle_hash)).manifest.secrets
        except ArtifactNotFound:
            log.warning(
                "%s: the live bundle %s is missing; not refreshed", app_id, status.live.bundle_hash
            )
            return None
    used = sorted(set(declared).intersection(names_changed))
    if not used:
        return None
    request = RefreshRequest(
        request_id=uuid.uuid4().hex,
        requested_by=requested_by,
        secrets=used,
        reason="secrets changed",
    )
    await _app_handle(client, app_id).signal(names.SIGNAL_REFRESH, request)
    return request.request_id


async def deployment_status(client: Client, workflow_id: str) -> DeploymentStatus:
    """A DeploymentWorkflow's ``status`` query (works after it closed, too)."""
    if not workflow_id.startswith("deploy-"):
        raise PipelineRequestError(f"{workflow_id!r} is not a deployment workflow id")
    try:
        status: DeploymentStatus = await client.get_workflow_handle(workflow_id).query(
            names.QUERY_STATUS, result_type=DeploymentStatus, rpc_timeout=QUERY_TIMEOUT
        )
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            raise PipelineRequestError(f"deployment {workflow_id!r} not found", 404) from None
        raise
    return status


async def submit_review(client: Client, workflow_id: str, decision: ReviewDecision) -> None:
    """Approve or reject a flagged deployment, refusing if it is not awaiting review.

    ``workflow_id`` is the deployment's id (``deploy-...``) or its app's (``app-...``,
    meaning the deployment currently running there).
    """
    if workflow_id.startswith("app-"):
        app_id = workflow_id.removeprefix("app-")
        current = (await app_status(client, app_id)).current_deployment
        if current is None:
            raise PipelineRequestError(f"{workflow_id} has no deployment awaiting review", 409)
        workflow_id = current.workflow_id
    status = await deployment_status(client, workflow_id)
    if not status.awaiting_review or status.stage is not Stage.AWAITING_REVIEW:
        raise PipelineRequestError(
            f"{workflow_id} is not awaiting review (stage: {status.stage.value})", 409
        )
    await client.get_workflow_handle(workflow_id).signal(names.SIGNAL_REVIEW, decision)


def _app_handle(client: Client, app_id: str) -> WorkflowHandle[object, object]:
    return client.get_workflow_handle(names.app_workflow_id(app_id))

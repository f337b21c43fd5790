"""Starting (or joining) a user's erasure, shared by the API and the CLI."""

from __future__ import annotations

from temporalio.client import Client, WorkflowHandle
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from schemas.privacy import ErasureInput, ErasureResult
from temporal import names


async def start_erasure(
    client: Client, user_id: str, *, requested_by: str, reason: str = ""
) -> WorkflowHandle[object, ErasureResult]:
    """PrivacyErasureWorkflow for ``user_id``. A second request joins the running one,
    or gets the finished one (there is nothing left to erase); a failed one starts again."""
    workflow_id = names.privacy_erasure_workflow_id(user_id)
    try:
        return await client.start_workflow(
            names.PRIVACY_ERASURE_WORKFLOW_TYPE,
            ErasureInput(user_id=user_id, requested_by=requested_by, reason=reason),
            id=workflow_id,
            task_queue=names.PIPELINE_TASK_QUEUE,
            result_type=ErasureResult,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
        )
    except WorkflowAlreadyStartedError:  # finished already
        return client.get_workflow_handle(workflow_id, result_type=ErasureResult)

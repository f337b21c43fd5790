"""Deployments: start one (prompt or bundle), read its status, roll back."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, HTTPException, status

from api.deps import AppId, CurrentActor, CurrentUser, OwnedApp, ServicesDep, deny
from api.model_response import ModelResponse
from pipeline.operations import request_deployment, request_rollback
from schemas.api import (
    DeploymentAccepted,
    DeploymentCreate,
    DeploymentView,
    ErrorBody,
    RollbackAccepted,
    RollbackCreate,
)
from schemas.deployment import AppStatus, DeploymentSummary, DeployRequest, RollbackRequest
from store.apps import AppOwnedByAnother
from store.bundles import BundleError, make_bundle
from store.qa_policy_overrides import QAPolicyOverrides
from store.qa_queue import QAQueue

router = APIRouter(prefix="/v1/apps", tags=["deployments"])
ERRORS: dict[int | str, dict[str, object]] = {
    code: {"model": ErrorBody} for code in (400, 401, 403, 404, 409, 413, 422, 429, 503)
}
# Errors of routes whose success is not JSON (the HTML report): still JSON bodies.
JSON_ERRORS: dict[int | str, dict[str, object]] = {
    code: {
        "description": "the reason, as JSON",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}},
    }
    for code in ERRORS
}


@router.post(
    "/{app_id}/deployments",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=DeploymentAccepted,
    responses=ERRORS,
)
async def start_deployment(
    app_id: AppId, body: DeploymentCreate, actor: CurrentActor, services: ServicesDep
) -> DeploymentAccepted:
    """Queue a deployment of a prompt or a bundle; creates the app on first use."""
    bundle_hash = None
    if body.bundle is not None:
        try:
            bundle = make_bundle(body.bundle)
        except BundleError as err:
            raise HTTPException(400, f"invalid bundle: {err}") from None
    user = actor.user_id
    owner = await services.apps.owner(app_id)
    if owner is not None and owner != user:
        raise await deny(services, actor, f"app:{app_id}", f"app {app_id!r} not found")
    if body.qa is not None and (
        refused := await QAPolicyOverrides(services.db, services.audit).refusal(
            app_id, body.qa, services.settings.qa_policy()
        )
    ):
        raise HTTPException(422, refused)
    repairs = services.settings.generation_repairs if body.repairs is None else body.repairs
    if repairs > services.settings.generation_repairs:
        raise HTTPException(
            422,
            f"repairs {repairs} is above this platform's {services.settings.generation_repairs}",
        )
    account = await services.users.get(user)
    if account is not None and account.suspended_at is not None:
        raise HTTPException(
            403,
            f"you are suspended from deploying ({account.suspended_reason});"
            " an operator can reinstate you",
        )
    try:
        await services.apps.ensure(app_id, user)
    except AppOwnedByAnother:
        raise await deny(services, actor, f"app:{app_id}", f"app {app_id!r} not found") from None
    if body.bundle is not None:
        bundle_hash = await services.bundles.put(bundle)
    request = DeployRequest(
        request_id=body.idempotency_key or uuid.uuid4().hex,
        owner_id=user,
        prompt=body.prompt,
        bundle_hash=bundle_hash,
        qa_policy=body.qa,
        generation_repairs=None if body.prompt is None else repairs,
    )
    workflow_id = await request_deployment(
        services.temporal, app_id, request, review_timeout_s=services.settings.review_timeout_s
    )
    base = services.settings.api_base_url
    return DeploymentAccepted(
        app_id=app_id,
        deployment_id=request.request_id,
        workflow_id=workflow_id,
        status_url=f"{base}/v1/apps/{app_id}/deployments/{request.request_id}",
        app_url=f"{services.settings.apps_base_url}/apps/{app_id}/",
        temporal_ui_url=services.settings.workflow_ui_url(workflow_id),
    )


@router.get(
    "/{app_id}/deployments/{deployment_id}", response_model=DeploymentView, responses=ERRORS
)
async def get_deployment(
    app_id: OwnedApp, deployment_id: str, services: ServicesDep
) -> ModelResponse:
    """A deployment's stage, verdict and timings (from the read model), and its place in
    the QA queue while its gate waits for a worker's cores."""
    summary = _summary(await services.app_status(app_id), deployment_id)
    if summary is None:  # requested a moment ago, before its app published it?
        summary = _summary(await services.live_app_status(app_id), deployment_id)
    if summary is None:
        raise HTTPException(404, f"deployment {deployment_id!r} not found")
    status_ = await services.deployment_status(app_id, summary)
    position = await QAQueue(services.db).position(app_id, deployment_id)
    return ModelResponse(DeploymentView(status=status_, summary=summary, queue_position=position))


def _summary(app: AppStatus, deployment_id: str) -> DeploymentSummary | None:
    return next((d for d in app.deployments if d.deployment_id == deployment_id), None)


@router.post(
    "/{app_id}/rollback",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=RollbackAccepted,
    responses=ERRORS,
)
async def rollback(
    app_id: OwnedApp, body: RollbackCreate, user: CurrentUser, services: ServicesDep
) -> RollbackAccepted:
    """Queue a rollback to ``to_version`` or to the release before the live one."""
    request = RollbackRequest(
        request_id=uuid.uuid4().hex,
        to_version=body.to_version,
        requested_by=user,
        reason=body.reason,
    )
    target = await request_rollback(services.temporal, app_id, request)
    return RollbackAccepted(app_id=app_id, target_version=target, request_id=request.request_id)

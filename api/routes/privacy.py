"""Privacy rights over HTTP: ``POST /v1/me/export`` builds (through a workflow) and
returns everything held about the caller; a slow build answers 202 with the export
id to fetch later with ``GET /v1/me/export/{export_id}``. ``DELETE /v1/me`` erases
the caller (PrivacyErasureWorkflow).

Exports are audited, throttled per user, mailed to the user, and need a session or
an unscoped token (a scoped service token cannot take a user's whole data).
Starting one is a POST, so from a session it needs the CSRF token: a link or an
image on another site cannot make a browser start a workflow and send mail.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from temporalio.client import WorkflowExecutionStatus
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.service import RPCError, RPCStatusCode

from api.deps import CurrentPrincipal, Principal, ServicesDep, client_ip, deny, enforce
from api.routes.deployments import ERRORS
from api.services import Services
from pipeline.privacy import start_erasure
from schemas.audit import Actor, AuditAction, AuditEvent, AuditOutcome
from schemas.privacy import EXPORT_ID_PATTERN, ExportInput, ExportResult
from store.privacy_export import PrivacyExports
from temporal import names

log = logging.getLogger(__name__)
router = APIRouter(prefix="/v1/me", tags=["privacy"])
WAIT_S = 15
ZIP: dict[int | str, dict[str, Any]] = {
    200: {"description": "the archive", "content": {"application/zip": {}}}
}


async def data_owner(principal: CurrentPrincipal) -> Principal:
    """A session or an unscoped token: a scoped service token gets 403."""
    if principal.scopes is not None:
        raise HTTPException(403, "a scoped service token cannot export a user's data")
    return principal


Owner = Annotated[Principal, Depends(data_owner)]


def _zip(data: bytes, export_id: str) -> Response:
    return Response(
        data,
        media_type="application/zip",
        headers={
            "Content-Disposition": f'attachment; filename="microbuilder-export-{export_id}.zip"',
            "Cache-Control": "no-store",
        },
    )


@router.post("/export", response_class=Response, responses={**ZIP, 202: {}, **ERRORS})
async def export_my_data(request: Request, owner: Owner, services: ServicesDep) -> Response:
    """Everything we hold about you, as a zip (built by a workflow; audited; mailed).

    One export at a time per user: while one is being built, this answers 202 with its
    id at once; a build taking longer than 15 s answers 202 too."""
    await enforce(services, services.login_limiter, f"export:{owner.user_id}", "exports")
    workflow_id = names.privacy_export_workflow_id(owner.user_id)
    running = await _running_export(services, workflow_id)
    if running is not None:  # one export at a time per user: this one is on its way
        return _building(running)
    export_id = uuid.uuid4().hex[:24]
    await services.audit.record(
        AuditEvent(
            actor=Actor(user_id=owner.user_id, client_ip=client_ip(request)),
            action=AuditAction.PRIVACY_EXPORT,
            resource=f"user:{owner.user_id}",
            outcome=AuditOutcome.OK,
            detail={"export_id": export_id},
        )
    )
    handle = await services.temporal.start_workflow(
        names.PRIVACY_EXPORT_WORKFLOW_TYPE,
        ExportInput(user_id=owner.user_id, export_id=export_id, requested_by=owner.user_id),
        id=workflow_id,
        task_queue=names.PIPELINE_TASK_QUEUE,
        result_type=ExportResult,
        memo={"export_id": export_id},
        id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
    )
    try:
        result: ExportResult = await asyncio.wait_for(handle.result(), WAIT_S)
    except TimeoutError:
        return _building(export_id)
    return _zip(await services.artifacts.get(result.sha256), export_id)


def _building(export_id: str) -> JSONResponse:
    return JSONResponse(
        {"export_id": export_id, "status": "building", "url": f"/v1/me/export/{export_id}"},
        status_code=202,
        headers={"Retry-After": "10"},
    )


async def _running_export(services: Services, workflow_id: str) -> str | None:
    """The export id of the user's export still being built, if any."""
    try:
        described = await services.temporal.get_workflow_handle(workflow_id).describe()
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            return None
        raise
    if described.status != WorkflowExecutionStatus.RUNNING:
        return None
    export_id = await described.memo_value("export_id", None, type_hint=str)
    return export_id or "unknown"


@router.get("/export/{export_id}", response_class=Response, responses={**ZIP, **ERRORS})
async def fetch_export(
    export_id: Annotated[str, Path(pattern=EXPORT_ID_PATTERN)],
    request: Request,
    owner: Owner,
    services: ServicesDep,
) -> Response:
    """An export built earlier (404 if it is not yours, or not built yet)."""
    found = await PrivacyExports(services.db).find(export_id)
    if found is None or found[0] != owner.user_id:
        actor = Actor(user_id=owner.user_id, client_ip=client_ip(request))
        detail = f"export {export_id!r} not found"
        if found is None:
            raise HTTPException(404, detail)
        raise await deny(services, actor, f"export:{export_id}", detail)
    return _zip(await services.artifacts.get(found[1]), export_id)


class EraseRequest(BaseModel):
    """``DELETE /v1/me`` body: the caller's own user id, typed again as confirmation."""

    model_config = ConfigDict(extra="forbid")

    confirm_user_id: str = Field(min_length=1, max_length=200)


class ErasureStarted(BaseModel):
    """The erasure is under way; a last mail tells the user when it starts."""

    user_id: str
    status: str = "erasing"
    workflow_id: str


async def session_principal(principal: CurrentPrincipal) -> Principal:
    """A signed-in browser session (its CSRF token checked); any token gets 403."""
    if principal.session_id is None:
        raise HTTPException(403, "erasing an account needs a signed-in session, not a token")
    return principal


@router.delete("", status_code=202, response_model=ErasureStarted, responses=ERRORS)
async def erase_me(
    body: EraseRequest,
    request: Request,
    principal: Annotated[Principal, Depends(session_principal)],
    services: ServicesDep,
) -> ErasureStarted:
    """Erase your account and everything held about you (GDPR art. 17 / CCPA right
    to delete). Only from a signed-in browser session, never with a token: your
    sessions and tokens stop working at once, your apps go offline, your secrets
    become unreadable everywhere (backups included) and your data is deleted."""
    if body.confirm_user_id != principal.user_id:
        raise HTTPException(422, "confirm_user_id must be your own user id")
    await enforce(services, services.login_limiter, f"erase:{principal.user_id}", "erasures")
    handle = await start_erasure(
        services.temporal, principal.user_id, requested_by=principal.user_id
    )
    log.info("erasure of %s requested from %s", principal.user_id, client_ip(request))
    return ErasureStarted(user_id=principal.user_id, workflow_id=handle.id)

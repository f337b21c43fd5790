"""QA reports of deployments: JSON for machines, HTML for people."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException
from fastapi.responses import HTMLResponse

from api.deps import CurrentActor, ServicesDep, deny
from api.report_html import CONTENT_SECURITY_POLICY, render_report
from api.routes.deployments import ERRORS, JSON_ERRORS
from schemas.audit import Actor
from schemas.qa import QAGateReport
from store.artifacts import ArtifactNotFound

router = APIRouter(prefix="/v1/deployments", tags=["reports"])


async def _report(deployment_id: str, actor: Actor, services: ServicesDep) -> QAGateReport:
    row = await services.qa_reports.report(deployment_id)
    detail = f"no QA report for deployment {deployment_id!r}"
    if row is None:
        raise HTTPException(404, detail)
    if row.owner_id != actor.user_id:
        raise await deny(services, actor, f"report:{deployment_id}", detail)
    try:
        return QAGateReport.model_validate_json(await services.artifacts.get(row.report_sha256))
    except ArtifactNotFound:
        raise HTTPException(404, f"the QA report of {deployment_id!r} is missing") from None


@router.get("/{deployment_id}/report", response_model=QAGateReport, responses=ERRORS)
async def get_report(
    deployment_id: str, actor: CurrentActor, services: ServicesDep
) -> QAGateReport:
    """The QA gate's report: verdict, each stage's figures and findings, timings."""
    return await _report(deployment_id, actor, services)


@router.get("/{deployment_id}/report.html", response_class=HTMLResponse, responses=JSON_ERRORS)
async def get_report_html(
    deployment_id: str, actor: CurrentActor, services: ServicesDep
) -> HTMLResponse:
    """The same report as a readable page (score bars, surviving mutants, findings)."""
    report = await _report(deployment_id, actor, services)
    return HTMLResponse(
        render_report(report, title=f"QA report of deployment {deployment_id}"),
        headers={"Content-Security-Policy": CONTENT_SECURITY_POLICY},
    )

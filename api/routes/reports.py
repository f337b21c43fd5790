"""QA reports of deployments: JSON for machines, HTML for people.

A prompt deployment whose generated bundle was repaired has one report per attempt:
``?attempt=N`` picks one; without it, the latest (whose verdict is the deployment's).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import HTMLResponse

from api.deps import CurrentActor, ServicesDep, deny
from api.report_html import CONTENT_SECURITY_POLICY, render_report
from api.routes.deployments import ERRORS, JSON_ERRORS
from schemas.audit import Actor
from schemas.generation import MAX_GENERATION_REPAIRS
from schemas.qa import QAGateReport
from store.artifacts import ArtifactNotFound
from store.qa_reports import QAReportRow

router = APIRouter(prefix="/v1/deployments", tags=["reports"])

Attempt = Annotated[
    int | None,
    Query(
        ge=1,
        le=MAX_GENERATION_REPAIRS + 1,
        description="which bundle of the deployment (1: the generated one, 2 on: its repairs;"
        " default: the latest)",
    ),
]


async def _report(
    deployment_id: str, actor: Actor, services: ServicesDep, attempt: int | None
) -> tuple[QAGateReport, QAReportRow]:
    row = await services.qa_reports.report(deployment_id, attempt)
    detail = f"no QA report for deployment {deployment_id!r}" + (
        "" if attempt is None else f" attempt {attempt}"
    )
    if row is None:
        raise HTTPException(404, detail)
    if row.owner_id != actor.user_id:
        raise await deny(services, actor, f"report:{deployment_id}", detail)
    try:
        data = await services.artifacts.get(row.report_sha256)
    except ArtifactNotFound:
        raise HTTPException(404, f"the QA report of {deployment_id!r} is missing") from None
    return QAGateReport.model_validate_json(data), row


@router.get("/{deployment_id}/report", response_model=QAGateReport, responses=ERRORS)
async def get_report(
    deployment_id: str, actor: CurrentActor, services: ServicesDep, attempt: Attempt = None
) -> QAGateReport:
    """The QA gate's report: verdict, each stage's figures and findings, timings."""
    report, _ = await _report(deployment_id, actor, services, attempt)
    return report


@router.get("/{deployment_id}/report.html", response_class=HTMLResponse, responses=JSON_ERRORS)
async def get_report_html(
    deployment_id: str, actor: CurrentActor, services: ServicesDep, attempt: Attempt = None
) -> HTMLResponse:
    """The same report as a readable page (score bars, surviving mutants, findings), with
    every attempt of a deployment whose generated bundle was repaired."""
    report, row = await _report(deployment_id, actor, services, attempt)
    attempts = await services.qa_reports.reports(deployment_id)
    return HTMLResponse(
        render_report(
            report,
            title=f"QA report of deployment {deployment_id}",
            attempts=attempts,
            attempt=row.attempt,
        ),
        headers={"Content-Security-Policy": CONTENT_SECURITY_POLICY},
    )

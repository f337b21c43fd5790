"""What operators see of a deployment in the Temporal UI, and where the operators' origin
serves its own pages.

The operators' origin (``MB_OPERATOR_PORT``) serves the Temporal UI behind our login,
the UI's codec endpoint at :data:`OPERATOR_CODEC_PATH` and QA reports under
:data:`OPERATOR_REPORTS_PATH`. A deployment's workflow carries, encrypted like every
payload, a summary and details (user metadata, set when it starts) with a link to its
report, and once the QA gate has decided, a memo entry :data:`MEMO_QA` with the verdict.
"""

from __future__ import annotations

from pydantic import BaseModel

OPERATOR_CODEC_PATH = "/mb/codec"
"""Where the operators' origin serves Temporal's ``/encode`` and ``/decode``."""

OPERATOR_REPORTS_PATH = "/mb/reports"
"""Where the operators' origin serves QA reports: ``/mb/reports/<deployment id>``."""

MEMO_QA = "qa"
"""The memo key of a deployment's QA verdict (:class:`QAMemo`)."""


def report_path(deployment_id: str) -> str:
    """The QA report page of a deployment on the operators' origin (a relative link, so
    it opens where the operator already is)."""
    return f"{OPERATOR_REPORTS_PATH}/{deployment_id}"


class QAMemo(BaseModel):
    """The QA gate's verdict as the deployment's memo shows it to operators."""

    verdict: str
    summary: str
    report: str


def deployment_summary(app_id: str, version: int) -> str:
    """The one line the Temporal UI shows above a deployment (user metadata summary)."""
    return f"{app_id} v{version}"


def deployment_details(deployment_id: str) -> str:
    """The details (markdown) the Temporal UI shows on a deployment's page."""
    return (
        f"[QA report of deployment {deployment_id}]({report_path(deployment_id)})\n\n"
        f"The QA verdict is the memo's `{MEMO_QA}` (once the gate has decided); the stage,"
        " the search attribute `MbStage`."
    )

"""Inputs of the activities that publish a workflow's status to the read model."""

from __future__ import annotations

from pydantic import BaseModel, Field

from schemas.deployment import AppStatus, DeploymentStatus


class RecordAppStatusInput(BaseModel):
    """Activity ``record_app_status``: the AppWorkflow's status as of ``seq``."""

    seq: int = Field(ge=0, description="grows with every snapshot; a lower one is ignored")
    status: AppStatus


class RecordDeploymentStatusInput(BaseModel):
    """Activity ``record_deployment_status``: a DeploymentWorkflow's status as of ``seq``."""

    seq: int = Field(ge=0, description="grows with every snapshot; a lower one is ignored")
    status: DeploymentStatus

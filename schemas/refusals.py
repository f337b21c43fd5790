"""A signal a workflow refused: its input could not be decoded or did not validate."""

from __future__ import annotations

from pydantic import BaseModel, Field


class RefusedSignal(BaseModel):
    """Input of the activity that records a refused signal as an incident."""

    app_id: str = Field(min_length=1, max_length=200)
    owner_id: str = Field(min_length=1, max_length=200)
    workflow_id: str = Field(min_length=1, max_length=300)
    signal: str = Field(min_length=1, max_length=100)
    reason: str = Field(description="why it was refused; never the payload itself")
    request_id: str = Field(min_length=1, max_length=200, description="one incident per refusal")

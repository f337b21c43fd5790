"""Code generation inputs and outputs."""

from __future__ import annotations

from pydantic import BaseModel, Field


class GenerateInput(BaseModel):
    """Input of the generation activity."""

    prompt: str
    app_id: str
    deployment_id: str


class GenerateOutput(BaseModel):
    """A generated bundle, by reference: it is stored content-addressed."""

    bundle_hash: str
    app_name: str
    app_kind: str = Field(description="blueprint kind, or 'custom' for an LLM bundle")
    file_count: int
    backend: str = Field(description="'blueprint' or 'openai'")


MAX_GENERATION_REPAIRS = 5
"""The most repairs a deployment may ask for (each one is a model call and a QA gate)."""
DEFAULT_GENERATION_REPAIRS = 2


class RepairInput(BaseModel):
    """Input of the repair activity: a generated bundle the QA gate failed, by reference.

    The report's findings are read from the artifact store inside the activity; only
    the hashes travel through workflow history.
    """

    prompt: str
    app_id: str
    owner_id: str
    deployment_id: str
    attempt: int = Field(
        ge=2, le=MAX_GENERATION_REPAIRS + 1, description="the attempt this repair makes"
    )
    bundle_hash: str = Field(description="the bundle that failed the gate")
    report_hash: str = Field(description="its QA gate report")


class RepairOutput(BaseModel):
    """A repaired bundle, by reference (stored content-addressed, kept per attempt)."""

    bundle_hash: str
    file_count: int
    backend: str = Field(description="'blueprint' or 'openai'")
    findings_chars: int = Field(description="how much of the report the generator was given")
    reused: bool = Field(
        default=False,
        description="stored by an earlier try of this attempt: the generator was not asked again",
    )


class RepairBudgetInput(BaseModel):
    """Input of the activity that says how many repairs this worker allows by default."""

    app_id: str
    deployment_id: str

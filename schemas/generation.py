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

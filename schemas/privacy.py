"""Privacy rights: the export of everything held about a user."""

from __future__ import annotations

from pydantic import BaseModel, Field

EXPORT_ID_PATTERN = r"^[a-z0-9]{16,32}$"


class ExportInput(BaseModel):
    """Input of PrivacyExportWorkflow and its activities."""

    user_id: str = Field(min_length=1, max_length=200)
    export_id: str = Field(pattern=EXPORT_ID_PATTERN)
    requested_by: str = Field(min_length=1, max_length=200)


class ExportResult(BaseModel):
    """The archive built: only its hash travels through Temporal."""

    export_id: str
    sha256: str
    size: int
    sections: dict[str, int] = Field(description="rows per section")

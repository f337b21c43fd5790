"""Privacy rights: the export of everything held about a user."""

from __future__ import annotations

from datetime import datetime

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


class ErasureInput(BaseModel):
    """Input of PrivacyErasureWorkflow and most of its activities."""

    user_id: str = Field(min_length=1, max_length=200)
    requested_by: str = Field(min_length=1, max_length=200)
    reason: str = Field(default="", max_length=500)


class ErasurePlan(BaseModel):
    """What the first step found: the apps to take offline, and whether a notice can go."""

    app_ids: list[str]
    notify: bool = Field(description="the user has a verified address to tell")


class RetireAppInput(BaseModel):
    """One of the user's apps to take offline for good."""

    user_id: str = Field(min_length=1, max_length=200)
    app_id: str = Field(min_length=1, max_length=64)
    requested_by: str = Field(min_length=1, max_length=200)


class FinishErasureInput(BaseModel):
    """The last step: record and audit what was done."""

    user_id: str = Field(min_length=1, max_length=200)
    histories_deleted: int = Field(ge=0)


class ErasureProgress(BaseModel):
    """Query ``progress`` of PrivacyErasureWorkflow: the step and how far it got."""

    step: str
    apps_total: int = 0
    apps_retired: int = 0


class ErasureResult(BaseModel):
    """What was erased (counts only: nothing personal travels through Temporal)."""

    user_id: str
    erased: dict[str, int]
    key_shredded: bool
    histories_deleted: int
    notified: bool


class ErasureStatus(BaseModel):
    """An erasure as recorded (no personal data: counts only)."""

    user_id: str
    requested_by: str
    requested_at: datetime
    erased: dict[str, int] | None
    key_shredded: bool
    finished_at: datetime | None

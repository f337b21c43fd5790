"""PostgreSQL backups and point-in-time recovery: what the catalog records and reports."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class BackupError(RuntimeError):
    """A backup, verification or restore step failed; the message says which and why.

    Messages carry the failing tool's stderr tail, never connection passwords.
    """


class BaseBackup(BaseModel):
    """One complete base backup (``<catalog>/base/<id>/backup.json``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(description="sortable and time based: YYYYMMDDTHHMMSSffffffZ")
    started_at: datetime = Field(description="server clock (UTC) before pg_basebackup started")
    finished_at: datetime = Field(description="server clock (UTC) after pg_basebackup returned")
    start_lsn: str
    end_lsn: str
    timeline: int
    start_wal: str = Field(description="the WAL segment file holding start_lsn")
    wal_segment_size: int = Field(description="bytes per WAL segment of the cluster")
    size_bytes: int
    tool_version: str = Field(description="pg_basebackup --version")
    escrow_sha256: str | None = Field(
        default=None, description="the encrypted key escrow beside it (keys.age), if any"
    )


class BackupProgress(BaseModel):
    """A progress report while pg_basebackup runs (the caller heartbeats with it)."""

    done_kb: int = 0
    total_kb: int = 0
    percent: int = 0
    elapsed_s: float = 0.0


class BackupVerification(BaseModel):
    """pg_verifybackup on the base backup plus WAL continuity of the archive."""

    backup_id: str
    ok: bool
    problems: list[str] = Field(default_factory=list)
    notes: list[str] = Field(
        default_factory=list, description="findings that do not block this verification"
    )
    checked_segments: int = 0


class PruneResult(BaseModel):
    """What ``prune`` removed."""

    kept: list[str]
    removed_backups: list[str]
    removed_incomplete: list[str]
    removed_wal: list[str]


class ArchiverStatus(BaseModel):
    """``pg_stat_archiver`` plus ``archive_mode`` of one server."""

    archive_mode: str
    archived_count: int
    last_archived_wal: str | None
    last_archived_time: datetime | None
    failed_count: int
    last_failed_wal: str | None
    last_failed_time: datetime | None

    @property
    def enabled(self) -> bool:
        """Archiving is on (``on`` or ``always``)."""
        return self.archive_mode in ("on", "always")

    @property
    def failing(self) -> bool:
        """The newest archive attempt failed (a failure newer than the last success)."""
        if self.last_failed_time is None:
            return False
        return self.last_archived_time is None or self.last_failed_time > self.last_archived_time


class RestoreResult(BaseModel):
    """A finished point-in-time restore: ``into`` is a ready, promoted data directory."""

    backup_id: str
    target: datetime
    into: Path
    recovered_to: datetime | None = Field(
        description="commit time of the last replayed transaction"
    )
    elapsed_s: float
    checks: list[list[list[str | None]]] = Field(
        default_factory=list, description="rows of each check query, as text"
    )


class UsabilityCheck(BaseModel):
    """What a drill opened in the restored copy, with the restored keys."""

    keys_from: Literal["escrow", "live"] = Field(
        description="the backup's escrow, or the worker's own keys when it cannot open one"
    )
    canary_secret: bool = Field(description="the canary secret revealed to its recorded hash")
    canary_audited: bool = Field(description="that reveal is in the copy's audit log")
    canary_payload: bool = Field(description="the canary payload decoded with the payload keys")
    canary_signature: bool = Field(description="its evidence signature verified")
    release_evidence: str | None = Field(
        default=None, description="the newest release whose evidence verified (app vN)"
    )
    problems: list[str] = Field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Everything opened."""
        return not self.problems


class DrillResult(BaseModel):
    """A restore drill: the newest backup plus the archived WAL (and its key escrow),
    restored to the moment the drill began, started, queried and opened, then thrown
    away."""

    backup_id: str
    ok: bool
    target: datetime
    recovered_to: datetime | None = None
    elapsed_s: float
    rows: dict[str, int] = Field(default_factory=dict, description="rows per checked table")
    problem: str | None = None
    usable: UsabilityCheck | None = Field(
        default=None, description="what was opened in the copy (None: not checked)"
    )


class BackupRunInput(BaseModel):
    """Input of BackupWorkflow."""

    reason: Literal["scheduled", "by hand"] = "scheduled"
    drill: bool = Field(default=True, description="restore the new backup to prove it")
    keep: int = Field(default=7, ge=1, description="base backups kept after this one")


BackupAlertRule = Literal["backup_failed", "restore_drill_failed"]


class BackupAlertInput(BaseModel):
    """An operator alert about backups (stored, mailed, sent to Sentry)."""

    rule: BackupAlertRule
    subject: str = Field(max_length=200)
    summary: str = Field(max_length=2000)


class BackupRunResult(BaseModel):
    """What one BackupWorkflow run did."""

    backup: BaseBackup
    verification: BackupVerification
    drill: DrillResult | None
    pruned: PruneResult


class BackupListing(BaseModel):
    """``mb backup list``: a base backup and its last restore drill."""

    backup: BaseBackup
    drill: DrillResult | None

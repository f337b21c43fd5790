"""Privacy activities: build a user's data export, and tell them it was made.

Idempotent: the archive is content-addressed and its row keyed by the export id,
so a retried build stores nothing twice; the notice is sent once per export.
"""

from __future__ import annotations

from temporalio import activity

from monitoring.security_mail import SecurityMail
from schemas.privacy import ExportInput, ExportResult
from store.artifacts import ArtifactStore
from store.db import Database
from store.privacy_export import PrivacyExports, archive, collect
from temporal import names


class PrivacyActivities:
    """Collect, archive, record and notify."""

    def __init__(
        self,
        db: Database,
        artifacts: ArtifactStore,
        exports: PrivacyExports,
        notices: SecurityMail,
    ) -> None:
        self._db = db
        self._artifacts = artifacts
        self._exports = exports
        self._notices = notices

    @activity.defn(name=names.ACTIVITY_BUILD_EXPORT)
    async def build_export(self, input: ExportInput) -> ExportResult:
        """Everything held about the user, as a zip stored by hash."""
        sections = await collect(self._db, input.user_id)
        data = archive(input.export_id, input.user_id, sections)
        digest = await self._artifacts.put("privacy-export", data)
        counts = {name: len(rows) for name, rows in sections.items()}
        await self._exports.record(input.export_id, input.user_id, digest, len(data), counts)
        return ExportResult(
            export_id=input.export_id, sha256=digest, size=len(data), sections=counts
        )

    @activity.defn(name=names.ACTIVITY_NOTIFY_EXPORT)
    async def notify_export(self, input: ExportInput) -> bool:
        """Mail the user that their data was exported (and by whom)."""
        notices = self._notices
        return await notices.data_exported(input.user_id, input.export_id, input.requested_by)

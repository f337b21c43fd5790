"""The long-lived dependencies the API routes use, built once per process."""

from __future__ import annotations

from dataclasses import dataclass, field

from temporalio.client import Client

from api.single_flight import SingleFlight
from schemas.deployment import AppStatus
from schemas.settings import Settings
from store.apps import AppRepository
from store.artifacts import ArtifactStore
from store.audit import AuditLog
from store.bundle_cache import BundleCache
from store.db import Database
from store.key_rings import master_envelope
from store.qa_reports import QAReportRepository
from store.rate_limits import RateLimiter
from store.releases import ReleaseRepository
from store.secrets import SecretStore
from store.tokens import TokenRepository
from temporal.pipeline_client import app_status


@dataclass
class Services:
    """Everything a request handler may need (no globals)."""

    settings: Settings
    db: Database
    temporal: Client
    apps: AppRepository
    tokens: TokenRepository
    releases: ReleaseRepository
    artifacts: ArtifactStore
    bundles: BundleCache
    qa_reports: QAReportRepository
    audit: AuditLog
    secrets: SecretStore
    limiter: RateLimiter
    statuses: SingleFlight[str, AppStatus] = field(default_factory=SingleFlight)

    async def app_status(self, app_id: str) -> AppStatus:
        """The AppWorkflow's status; concurrent requests for one app share one query."""
        return await self.statuses.run(app_id, lambda: app_status(self.temporal, app_id))

    @classmethod
    def build(cls, settings: Settings, db: Database, temporal: Client) -> Services:
        """Wire the repositories onto one database and one Temporal client."""
        artifacts = ArtifactStore(db)
        audit = AuditLog(db)
        envelope = master_envelope(settings)
        return cls(
            settings=settings,
            db=db,
            temporal=temporal,
            apps=AppRepository(db),
            tokens=TokenRepository(db),
            releases=ReleaseRepository(db),
            artifacts=artifacts,
            bundles=BundleCache(artifacts, settings.data_path / "bundles"),
            qa_reports=QAReportRepository(db),
            audit=audit,
            secrets=SecretStore(db, envelope, audit),
            limiter=RateLimiter(db, limit=settings.rate_limit_per_minute, window_s=60),
        )

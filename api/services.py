"""The long-lived dependencies the API routes use, built once per process."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from temporalio.client import Client

from api.oidc_client import OidcClient
from api.single_flight import SingleFlight
from monitoring.http_metrics import HttpMetrics
from monitoring.security_mail import SecurityMail
from pipeline.operations import (
    AppNotFound,
    PipelineRequestError,
    app_status,
    deployment_status,
)
from schemas.deployment import AppStatus, DeploymentOutcome, DeploymentStatus, DeploymentSummary
from schemas.settings import Settings
from store.apps import AppRepository
from store.artifacts import ArtifactStore
from store.audit import AuditLog
from store.bundle_cache import BundleCache
from store.db import Database
from store.email_verification import EmailVerifier
from store.key_rings import master_envelope, master_key_ring
from store.login_attempts import LoginAttempts
from store.mail_delivery import Mailer
from store.outbox import MailOutbox
from store.qa_reports import QAReportRepository
from store.rate_limits import RateLimiter
from store.releases import ReleaseRepository
from store.secrets import SecretStore
from store.sessions import Clock, SessionStore, utc_now
from store.status_views import StatusViews
from store.tokens import TokenRepository
from store.users import UserRepository


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
    login_limiter: RateLimiter
    users: UserRepository
    sessions: SessionStore
    login_attempts: LoginAttempts
    mailer: Mailer
    verifier: EmailVerifier
    oidc: OidcClient | None
    notices: SecurityMail
    views: StatusViews
    clock: Clock = utc_now
    statuses: SingleFlight[str, AppStatus] = field(default_factory=SingleFlight)
    metrics: HttpMetrics = field(default_factory=HttpMetrics)

    async def app_status(self, app_id: str) -> AppStatus:
        """The app's status as its AppWorkflow last published it (the read model: no
        Temporal call), or, for an app that published none (never deployed, or its
        workflow started before the read model existed), the workflow's own answer."""
        stored = await self.views.app(app_id)
        return stored if stored is not None else await self.live_app_status(app_id)

    async def deployment_status(
        self, app_id: str, summary: DeploymentSummary
    ) -> DeploymentStatus | None:
        """The deployment's published status; None while it is queued. One that published
        none (started before the read model existed, or just starting) is asked."""
        stored = await self.views.deployment(app_id, summary.deployment_id)
        if stored is not None or summary.outcome is DeploymentOutcome.PENDING:
            return stored
        try:
            return await deployment_status(self.temporal, summary.workflow_id)
        except PipelineRequestError as err:
            if err.status != 404:
                raise
            return None  # its workflow has not started yet

    async def live_app_status(self, app_id: str) -> AppStatus:
        """The AppWorkflow's status query; concurrent requests for one app share one.

        An app created but never deployed has no workflow yet: an empty status.
        """
        try:
            return await self.statuses.run(app_id, lambda: app_status(self.temporal, app_id))
        except AppNotFound:
            owner = await self.apps.owner(app_id)
            if owner is None:
                raise
            return AppStatus(
                app_id=app_id,
                owner_id=owner,
                live=None,
                current_deployment=None,
                pending=0,
                deployments=[],
                rollbacks=[],
            )

    @classmethod
    def build(
        cls, settings: Settings, db: Database, temporal: Client, *, clock: Clock = utc_now
    ) -> Services:
        """Wire the repositories onto one database and one Temporal client (and a clock,
        which session and link expiry follow)."""
        artifacts = ArtifactStore(db)
        audit = AuditLog(db)
        envelope = master_envelope(settings)

        def seconds() -> float:
            return clock().timestamp()

        mailer = Mailer.from_settings(settings, MailOutbox(db))
        users = UserRepository(db)
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
            limiter=RateLimiter(
                db, limit=settings.rate_limit_per_minute, window_s=60, clock=seconds
            ),
            login_limiter=RateLimiter(
                db, limit=settings.login_attempts_per_minute, window_s=60, clock=seconds
            ),
            users=users,
            sessions=SessionStore(
                db,
                idle_timeout=timedelta(seconds=settings.session_idle_timeout_s),
                absolute_timeout=timedelta(seconds=settings.session_absolute_timeout_s),
                clock=clock,
            ),
            login_attempts=LoginAttempts(db, clock=clock),
            mailer=mailer,
            verifier=EmailVerifier(
                db,
                lambda: master_key_ring(settings),
                mailer.send,
                base_url=settings.api_base_url,
                ttl=timedelta(seconds=settings.verification_link_ttl_s),
                clock=clock,
            ),
            oidc=oidc_client(settings),
            notices=SecurityMail(users, mailer, base_url=settings.api_base_url),
            views=StatusViews(db),
            clock=clock,
        )


def oidc_client(settings: Settings) -> OidcClient | None:
    """The configured identity provider, if any."""
    if settings.oidc_issuer is None:
        return None
    secret = settings.oidc_client_secret
    return OidcClient(
        issuer=settings.oidc_issuer,
        client_id=settings.oidc_client_id,
        client_secret=secret.get_secret_value() if secret else "",
        redirect_uri=f"{settings.api_base_url}/v1/auth/callback",
    )

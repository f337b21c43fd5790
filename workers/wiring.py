"""Building the activity objects of one worker process from settings and connections."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import openai
from temporalio.client import Client

from activities.anomalies import AnomalyActivities
from activities.backups import BackupActivities, KeyRecovery
from activities.generation_activities import GenerationActivities, RepairActivities
from activities.key_rotation import KeyRotationActivities
from activities.mail_retries import MailDeliveryActivities
from activities.moderation import Moderator
from activities.moderation_activities import ModerationActivities
from activities.privacy import PrivacyActivities
from activities.privacy_erasure import PrivacyErasureActivities
from activities.qa.evidence import EvidenceService
from activities.qa_activities import QAActivities, QAReportActivities
from activities.qa_admission import QAAdmission, gate_capacity
from activities.refusals import RefusalActivities
from activities.releases import Placement, ReleaseActivities
from activities.restore_usability import KeyRings
from activities.runtime_activities import RuntimeActivities
from activities.status_views import StatusViewActivities
from monitoring.operator_alerts import OperatorAlerts
from monitoring.security_mail import SecurityMail
from runtime.base import Runtime
from runtime.docker import DockerRuntime
from runtime.egress.registry import EgressRegistry
from runtime.egress.supervisor import EgressProxyProcess
from runtime.envs import EnvBuilder
from runtime.sandbox import SandboxRuntime
from runtime.uids import UidPool
from schemas.settings import Settings
from store.aes_keys import KeyDirectory
from store.anomalies import AlertLog, AnomalyRules
from store.artifacts import ArtifactStore
from store.audit import AuditLog
from store.base_backups import configured_catalog
from store.bundle_cache import BundleCache
from store.data_keys import DataKeyRewrapper
from store.db import Database
from store.egress import EgressApprovals
from store.generation_repairs import GenerationRepairs
from store.incidents import IncidentLog
from store.key_escrow import backup_escrow_lock, collect, drill_escrow_lock
from store.key_rings import master_envelope, master_key_dir, owner_keys
from store.key_source import key_source
from store.keyring import EvidenceKeys
from store.mail_delivery import Mailer
from store.moderation_log import ModerationLog
from store.outbox import MailOutbox
from store.privacy_erasure import PrivacyErasures
from store.privacy_export import PrivacyExports
from store.qa_policy_overrides import QAPolicyOverrides
from store.qa_reports import QAReportRepository
from store.release_secrets import ReleaseSecrets
from store.releases import ReleaseRepository
from store.runtime_hosts import RuntimeHosts
from store.secrets import SecretStore
from store.status_views import StatusViews
from store.users import UserRepository
from temporal.converter import payload_codec


def openai_client(settings: Settings) -> openai.AsyncOpenAI | None:
    """The OpenAI-compatible client, when a base URL or key is configured."""
    if settings.openai_base_url is None and settings.openai_api_key is None:
        return None
    return openai.AsyncOpenAI(
        base_url=settings.openai_base_url,
        api_key=settings.openai_api_key.get_secret_value() if settings.openai_api_key else "none",
        timeout=settings.openai_timeout_s,
        max_retries=0,  # Temporal retries the activity
    )


def evidence_keys(settings: Settings) -> EvidenceKeys:
    """The keys that sign and verify QA evidence, from the key source (the embedded
    ring is created on first use; a mounted one may hold only public keys)."""
    return key_source(settings).evidence_keys()


def secret_store(settings: Settings, db: Database) -> SecretStore:
    """The secrets store (master keys from the environment or the data directory)."""
    return SecretStore(db, master_envelope(settings), AuditLog(db))


def master_key_directory(settings: Settings) -> KeyDirectory | None:
    """The embedded master key ring's directory; None when keys come from the environment."""
    return None if settings.master_key is not None else master_key_dir(settings)


def key_rotation_activities(settings: Settings, db: Database) -> KeyRotationActivities:
    """Rewrap and retire activities over this worker's view of the master keys."""
    envelope = master_envelope(settings)
    return KeyRotationActivities(
        DataKeyRewrapper(db, envelope, AuditLog(db)), master_key_directory(settings)
    )


def moderator(settings: Settings, client: openai.AsyncOpenAI | None) -> Moderator:
    """The local policy engine, plus OpenAI moderation when configured and enabled."""
    return Moderator(
        client if settings.openai_moderation else None, settings.openai_moderation_model
    )


def egress_registry(settings: Settings, db: Database) -> EgressRegistry | None:
    """This host's egress proxy configuration (``MB_EGRESS``), approvals from the store."""
    if not settings.egress:
        return None
    return EgressRegistry(
        egress_config_path(settings),
        settings.egress_proxy_config(),
        approvals=EgressApprovals(db, AuditLog(db)).approved,
        limits=settings.egress_limits,
    )


def egress_config_path(settings: Settings) -> Path:
    """Where this host's egress proxy reads its configuration."""
    return settings.data_path / "egress" / "proxy.json"


def egress_proxy(settings: Settings) -> EgressProxyProcess:
    """This host's egress proxy process (started by the workers, stopped with ``mb up``)."""
    return EgressProxyProcess(
        egress_config_path(settings),
        settings.egress_proxy_config(),
        log_path=settings.data_path / "logs" / "egress-proxy.log",
    )


def app_runtime(settings: Settings, egress: EgressRegistry | None = None) -> Runtime:
    """Where this host runs deployed apps: bubblewrap sandboxes or Docker containers
    (``MB_RUNTIME``). QA runs always use the sandbox. ``egress`` joins apps that
    declare egress to this host's proxy."""
    if settings.runtime == "docker":
        return DockerRuntime(
            settings.data_path / "containers",
            host=settings.runtime_host,
            memory_mb=settings.app_memory_mb,
            pids=settings.app_pids,
            cpu=settings.app_cpu,
            base_image=settings.docker_base_image,
            keep_releases=settings.docker_keep_releases,
            uids=UidPool.from_settings(settings),
            egress=egress,
        )
    return sandbox_runtime(settings, egress)


def sandbox_runtime(settings: Settings, egress: EgressRegistry | None = None) -> SandboxRuntime:
    """The embedded bubblewrap runtime of this host."""
    return SandboxRuntime(
        settings.data_path / "runtime",
        host=settings.runtime_host,
        uids=UidPool.from_settings(settings),
        memory_mb=settings.app_memory_mb,
        pids=settings.app_pids,
        cpu=settings.app_cpu,
        use_cgroups=settings.sandbox_cgroups,
        egress=egress,
    )


@dataclass
class Activities:
    """Every activity object of a worker process, sharing one set of dependencies."""

    moderation: ModerationActivities
    key_rotation: KeyRotationActivities
    anomalies: AnomalyActivities
    privacy: PrivacyActivities
    erasure: PrivacyErasureActivities
    backups: BackupActivities
    mail: MailDeliveryActivities
    generation: GenerationActivities
    repair: RepairActivities
    qa: QAActivities
    qa_report: QAReportActivities
    runtime: RuntimeActivities
    releases: ReleaseActivities
    refusals: RefusalActivities
    status_views: StatusViewActivities
    app_runtime: Runtime
    bundles: BundleCache
    envs: EnvBuilder
    release_repo: ReleaseRepository
    egress: EgressRegistry | None = None
    qa_admission: QAAdmission | None = None

    @classmethod
    def build(cls, settings: Settings, db: Database, temporal: Client) -> Activities:
        """Wire activities onto one database pool, this host's runtime and Temporal."""
        data = settings.data_path
        client = openai_client(settings)
        artifacts = ArtifactStore(db)
        bundles = BundleCache(artifacts, data / "bundles")
        envs = EnvBuilder(data / "envs")
        egress = egress_registry(settings, db)
        runtime = app_runtime(settings, egress)
        release_repo = ReleaseRepository(db)
        reports = QAReportRepository(db)
        evidence = EvidenceService(reports, artifacts, evidence_keys(settings))
        outbox = MailOutbox(db)
        mailer = Mailer.from_settings(settings, outbox)
        notices = SecurityMail(UserRepository(db), mailer, base_url=settings.api_base_url)
        operator_alerts = OperatorAlerts(AlertLog(db), mailer, settings.operator_emails)
        qa_overrides = QAPolicyOverrides(db, AuditLog(db))
        admission = QAAdmission(gate_capacity(settings)) if settings.qa_admission else None
        return cls(
            moderation=ModerationActivities(
                moderator(settings, client), ModerationLog(db), notices, bundles
            ),
            key_rotation=key_rotation_activities(settings, db),
            privacy=PrivacyActivities(db, artifacts, PrivacyExports(db), notices),
            erasure=PrivacyErasureActivities(
                PrivacyErasures(db, AuditLog(db)),
                UserRepository(db),
                outbox,
                mailer,
                owner_keys(settings),
                temporal,
            ),
            anomalies=AnomalyActivities(
                AnomalyRules(db), operator_alerts, UserRepository(db), AuditLog(db)
            ),
            generation=GenerationActivities(bundles, client, settings.openai_model),
            repair=RepairActivities(
                bundles,
                artifacts,
                GenerationRepairs(db),
                client,
                settings.openai_model,
                repairs_allowed=settings.generation_repairs,
            ),
            qa=QAActivities(bundles, artifacts, envs, settings, qa_overrides, admission),
            qa_report=QAReportActivities(artifacts, reports, evidence, settings, qa_overrides),
            runtime=RuntimeActivities(
                runtime,
                bundles,
                envs,
                evidence,
                secret_store(settings, db),
                ReleaseSecrets(db),
                drain_s=settings.drain_s,
            ),
            releases=ReleaseActivities(
                release_repo,
                Placement(RuntimeHosts(db), settings.host_dead_after_s),
                IncidentLog(db),
                bundles,
                notices,
            ),
            refusals=RefusalActivities(IncidentLog(db)),
            status_views=StatusViewActivities(StatusViews(db)),
            backups=backup_activities(settings, db, operator_alerts),
            mail=MailDeliveryActivities(mailer, outbox, operator_alerts),
            app_runtime=runtime,
            bundles=bundles,
            envs=envs,
            release_repo=release_repo,
            egress=egress,
            qa_admission=admission,
        )


def live_key_rings(settings: Settings) -> KeyRings:
    """This deployment's keys: secrets (master and owners' keys), payloads, evidence."""
    return KeyRings(
        envelope=master_envelope(settings),
        codec=payload_codec(settings),
        evidence=evidence_keys(settings),
        source="live",
    )


def backup_activities(settings: Settings, db: Database, alerts: OperatorAlerts) -> BackupActivities:
    """The backup activities (refusing to run where this deployment takes no backups),
    with the canary, the key escrow and the drill's way to open it."""
    recovery = KeyRecovery(
        db=db,
        live_keys=lambda: live_key_rings(settings),
        escrow_document=lambda: collect(settings),
        erased=lambda: owner_keys(settings).erased(),
        seal_lock=backup_escrow_lock(settings),
        open_lock=drill_escrow_lock(settings),
        namespace=settings.temporal_namespace,
    )
    return BackupActivities(configured_catalog(settings), db.conninfo, alerts, recovery)

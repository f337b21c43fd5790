"""Configuration: one ``Settings`` object read from ``MB_*`` environment variables."""

from __future__ import annotations

import ipaddress
import os
from functools import cached_property
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from schemas.anomalies import Thresholds
from schemas.egress import EgressLimits, EgressTarget, ProxyConfig, check_host
from schemas.generation import DEFAULT_GENERATION_REPAIRS, MAX_GENERATION_REPAIRS
from schemas.hosts import HOST_NAME_PATTERN, HostCapacity
from schemas.mail import MailRetryPolicy
from schemas.operators import OPERATOR_CODEC_PATH
from schemas.qa import QAPolicy


class Settings(BaseSettings):
    """Everything configurable, with safe embedded defaults.

    Unset ``temporal_address`` / ``database_url`` mean "run the embedded
    server under ``data_dir``"; set, they point at production backends.
    """

    model_config = SettingsConfigDict(env_prefix="MB_", extra="ignore")

    data_dir: Path = Field(default=Path(".mb"))

    # Temporal
    temporal_address: str | None = None
    temporal_namespace: str = "default"
    temporal_port: int = 7233
    temporal_ui_port: int = 8233
    temporal_api_key: SecretStr | None = None
    temporal_tls: bool = False

    # PostgreSQL
    database_url: SecretStr | None = None

    # HTTP API
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    codec_port: int = Field(default=8234, description="the codec server (mb up, mb codec-server)")
    apps_host: str = Field(
        default="127.0.0.2",
        description="where the gateway to deployed apps listens: another host than the API's,"
        " so another site, whose cookies the browser never sends to the API",
    )
    apps_port: int = Field(default=8001, description="the gateway to deployed apps (own origin)")
    operator_port: int = Field(
        default=8236,
        description="the operators' origin (the Temporal UI behind our login, and its codec"
        " endpoint), on the API's host so the session cookie reaches it",
    )
    operator_public_url: str | None = Field(
        default=None,
        description="base URL operators reach the operators' origin at (the API's host)",
    )
    temporal_ui_url: str | None = Field(
        default=None,
        description="the Temporal Web UI the operators' origin serves (default: the embedded"
        " dev server's, on loopback)",
    )
    metrics_host: str = Field(
        default="127.0.0.1", description="where the Prometheus endpoints listen (loopback)"
    )
    metrics_port: int = Field(
        default=8237,
        description="Prometheus text of this process's HTTP servers (API, gateway, operators')",
    )
    worker_metrics_port: int = Field(
        default=8238,
        description="Prometheus text of this process's Temporal workers and the pipeline",
    )
    apps_public_url: str | None = Field(
        default=None, description="base URL users reach deployed apps at (another origin)"
    )
    trusted_proxies: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="addresses or networks (comma-separated) of the reverse proxies whose"
        " X-Forwarded-For/-Proto the API, gateway and codec server believe; none by default",
    )
    rate_limit_per_minute: int = Field(
        default=60,
        ge=1,
        description="API requests per minute per user (per client IP unauthenticated)",
    )
    security_contact: str = Field(
        default="mailto:security@microbuilder.invalid", description="security.txt Contact"
    )
    security_policy_url: str | None = Field(default=None, description="security.txt Policy")
    public_url: str | None = Field(default=None, description="base URL users reach the API at")
    tls: bool = Field(default=False, description="serve the API and codec server over HTTPS")
    tls_cert: Path | None = Field(default=None, description="PEM certificate (else self-signed)")
    tls_key: Path | None = Field(default=None, description="PEM private key of tls_cert")

    # Identity: an OpenID Connect provider (unset: mb up runs the development one)
    oidc_issuer: str | None = Field(default=None, description="the provider's issuer URL")
    oidc_client_id: str = Field(default="mb-api", description="our client id at the provider")
    oidc_client_secret: SecretStr | None = Field(
        default=None, description="our client secret (the dev provider's is generated)"
    )
    oidc_dev_port: int = Field(default=8235, description="mb up's development OIDC provider")
    session_idle_timeout_s: int = Field(default=1800, ge=60, description="idle session expiry")
    session_absolute_timeout_s: int = Field(
        default=12 * 3600, ge=300, description="session expiry however active"
    )
    login_attempts_per_minute: int = Field(
        default=10, ge=1, description="login and verification requests per minute per IP"
    )
    verification_link_ttl_s: int = Field(default=24 * 3600, ge=60)

    # Mail: the outbox table and the console unless an SMTP host is set
    smtp_host: str | None = Field(default=None, description="SMTP relay (unset: console)")
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_starttls: bool = Field(default=True, description="require STARTTLS with the relay")
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_timeout_s: float = Field(default=10.0, gt=0)
    mail_from: str = Field(default="MicroBuilder <noreply@microbuilder.invalid>")
    mail_delivery_every_s: int = Field(
        default=60, ge=5, description="how often the schedule delivers due mail"
    )
    mail_retry_initial_s: float = Field(default=60.0, ge=0, description="first retry's delay")
    mail_retry_max_s: float = Field(default=3600.0, ge=0, description="longest retry delay")
    mail_retry_budget_s: float = Field(
        default=24 * 3600.0, ge=0, description="a mail still failing after this is given up"
    )

    # Anomaly detection (a Temporal Schedule over the audit and moderation logs)
    anomaly_scan_every_s: int = Field(default=300, ge=10)
    anomaly_window_s: int = Field(default=600, ge=60)
    anomaly_failed_logins: int = Field(default=10, ge=1)
    anomaly_blocked_prompts: int = Field(default=3, ge=1)
    anomaly_secret_reads: int = Field(default=20, ge=1)
    anomaly_rate_limited_minutes: int = Field(default=3, ge=1)
    anomaly_failed_deployments: int = Field(default=5, ge=1)
    anomaly_egress_refused: int = Field(default=20, ge=1)
    alert_emails: str = Field(default="", description="operators' addresses, comma-separated")

    # Backups: WAL archiving + a daily base backup (a Temporal Schedule), point-in-time restore
    backup_dir: Path | None = Field(
        default=None,
        description="base backups and archived WAL (default with the embedded database:"
        " <data_dir>/backups; an external server archives where its operator configured)",
    )
    backups: bool = Field(default=True, description="archive WAL and take scheduled backups")
    backup_cron: str = Field(default="17 3 * * *", description="when the base backup runs (UTC)")
    backup_keep: int = Field(default=7, ge=1, description="base backups kept (and their WAL)")
    pg_bindir: Path | None = Field(
        default=None, description="PostgreSQL client binaries (default: the embedded ones)"
    )
    escrow_recipients: str = Field(
        default="",
        description="age X25519 recipients (age1..., comma-separated): each base backup"
        " keeps the key ring encrypted to them",
    )
    escrow_passphrase_file: Path | None = Field(
        default=None,
        description="or: a file (0600) whose passphrase encrypts each backup's key escrow",
    )
    escrow_identity_file: Path | None = Field(
        default=None,
        description="an age identity file the restore drill opens recipient escrows with",
    )

    # Error monitoring (off unless a DSN is set)
    sentry_dsn: SecretStr | None = Field(default=None, description="Sentry DSN")
    sentry_environment: str = Field(default="development")
    sentry_release: str | None = None

    # OpenAI-compatible backends (generation and moderation), optional
    openai_base_url: str | None = None
    openai_api_key: SecretStr | None = None
    openai_model: str = "gpt-4o-mini"
    openai_moderation_model: str = "omni-moderation-latest"
    openai_moderation: bool = Field(
        default=True,
        description="also ask the OpenAI-compatible /moderations endpoint when one is configured",
    )
    openai_timeout_s: float = 60.0

    # Pipeline
    review_timeout_s: float = 24 * 3600
    generation_repairs: int = Field(
        default=DEFAULT_GENERATION_REPAIRS,
        ge=0,
        le=MAX_GENERATION_REPAIRS,
        description="times a generated bundle that fails the QA gate goes back to the generator"
        " with the report's findings (0: never); deployments may ask for fewer",
    )

    # Where every key comes from (see store/key_source.py). Unset: generated once into
    # <data_dir>/keys with 0600 permissions.
    key_source_dir: Path | None = Field(
        default=None,
        description="one directory holding the keys (laid out like <data dir>/keys), mounted"
        " on every host; nothing is generated there, a missing key stops the process",
    )
    key_source_plugin: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$",
        description="module:factory of a KeySource (e.g. a KMS); the factory takes the"
        " settings and returns the source; the environment's keys still take precedence",
    )
    evidence_public_keys: str | None = Field(
        default=None,
        description="comma-separated base64 raw Ed25519 public keys that verify QA evidence"
        " (a verifying host needs no signing key)",
    )
    # Keys (base64 of 32 random bytes each; never logged).
    master_key: SecretStr | None = Field(
        default=None, description="the current master key (key-encryption key) for secrets"
    )
    master_key_previous: SecretStr | None = Field(
        default=None, description="comma-separated older master keys still wrapping data keys"
    )
    operator_ids: str = Field(
        default="local",
        description="comma-separated user ids allowed to read the audit log and decode payloads",
    )
    codec_key: SecretStr | None = Field(
        default=None, description="the current Temporal payload encryption key"
    )
    codec_accept_plaintext: bool = Field(
        default=False,
        description="accept unencrypted payloads (only while migrating pre-encryption workflows)",
    )
    codec_key_previous: SecretStr | None = Field(
        default=None, description="comma-separated older payload keys (old histories)"
    )
    qa_test_runs: int = 3
    qa_test_timeout_s: float = 300.0
    qa_concurrency: int = Field(default=6, ge=1, description="QA activities run at once")
    qa_cores: int | None = Field(default=None, ge=1, description="mutmut children (default: all)")
    qa_admission: bool = Field(
        default=True,
        description="admit whole QA gates to the worker's cores, FIFO per owner and round-robin"
        " across owners (False: every stage starts at once, up to qa_concurrency)",
    )
    qa_gates: int | None = Field(
        default=None,
        ge=1,
        description="QA gates one worker runs at once (default: the cores it may use divided"
        " by qa_cores_per_gate, at least 1)",
    )
    qa_cores_per_gate: int = Field(default=2, ge=1, description="cores one QA gate keeps busy")
    qa_waiting_gates: int = Field(
        default=40,
        ge=0,
        description="QA gates one worker accepts beyond those it runs, waiting (heartbeating)"
        " for a slot",
    )
    qa_mutation_threshold: float = Field(default=0.70, ge=0, le=1)
    qa_min_mutable_fraction: float = Field(default=0.5, ge=0, le=1)
    qa_mutation_timeout_s: float = Field(default=600.0, gt=0)
    qa_mutation_reuse: bool = Field(
        default=True,
        description="reuse mutation outcomes of earlier runs where nothing they depend on "
        "changed (stored under <data dir>/qa/mutation-reuse)",
    )
    qa_fuzz_examples: int = Field(default=50, ge=1, le=10_000)
    qa_fuzz_timeout_s: float = Field(default=300.0, gt=0)
    qa_bandit_fail_severity: Literal["LOW", "MEDIUM", "HIGH"] = "HIGH"
    qa_bandit_fail_severity_high_confidence: Literal["LOW", "MEDIUM", "HIGH"] = "MEDIUM"
    advisory_db: Path | None = Field(
        default=None, description="OSV advisory directory (default: <data_dir>/advisories)"
    )
    advisory_url: str = "https://osv-vulnerabilities.storage.googleapis.com/PyPI/all.zip"
    advisory_allowlist: Path | None = Field(
        default=None, description="JSON list of accepted advisories with expiry dates"
    )
    safety_api_key: SecretStr | None = None

    # Runtime
    runtime: Literal["sandbox", "docker"] = Field(
        default="sandbox", description="where deployed apps run (QA always uses the sandbox)"
    )
    docker_base_image: str = Field(
        default="microbuilder/python-base:bookworm-3.11",
        description="the Docker runtime's base image (`mb runtime build-base` makes this one)",
    )
    docker_keep_releases: int = Field(
        default=2, ge=0, description="release images kept before the newest (fast rollback)"
    )
    runtime_host: str = Field(
        default="local",
        pattern=HOST_NAME_PATTERN,
        description="this worker's runtime host (its apps' task queue: mb-runtime-<name>)",
    )
    host_heartbeat_s: float = Field(
        default=5.0, gt=0, description="how often a worker reports its runtime host alive"
    )
    host_dead_after_s: float = Field(
        default=15.0,
        gt=0,
        description="a host silent this long gets no new placement; with apps on it, it is lost",
    )
    host_loss_check_s: float = Field(
        default=2.0, gt=0, description="how often the workers look for lost runtime hosts"
    )
    host_max_apps: int | None = Field(
        default=None, ge=0, description="apps this host runs at most (default: its memory / app's)"
    )
    host_memory_mib: int | None = Field(
        default=None,
        ge=0,
        description="memory for apps on this host (default: three quarters of the machine's)",
    )
    # Routing across hosts: this host's gateway, and the CA both gateways trust
    host_gateway_host: str = Field(
        default="127.0.0.1", description="where `mb host-gateway` listens (mutual TLS only)"
    )
    host_gateway_port: int = Field(default=8239, description="the port of `mb host-gateway`")
    host_gateway_url: str | None = Field(
        default=None,
        description="the URL the front gateway reaches this host's gateway at (registered at"
        " start); default https://MB_HOST_GATEWAY_HOST:MB_HOST_GATEWAY_PORT",
    )
    gateway_ca_dir: Path | None = Field(
        default=None,
        description="the gateways' CA (ca.crt, ca.key): a directory every host mounts; created"
        " on first start when absent; default <data dir>/keys/gateway-ca",
    )
    gateway_ca_cert: SecretStr | None = Field(
        default=None, description="the gateways' CA certificate, PEM (with gateway_ca_key)"
    )
    gateway_ca_key: SecretStr | None = Field(
        default=None, description="the gateways' CA private key, PEM (with gateway_ca_cert)"
    )
    sandbox_uid_base: int = Field(
        default=1_900_000_000,
        ge=1000,
        description="first host uid (and gid) of sandboxes: one per app and per QA run; the"
        " default block avoids login users, subordinate-uid and systemd container ranges",
    )
    sandbox_uid_count: int = Field(default=65536, ge=1, description="sandbox uids in the range")
    sandbox_uid_leases: Path | None = Field(
        default=None,
        description="who holds which sandbox uid (default: <data_dir>/uids); every worker of"
        " a host must share it",
    )
    app_memory_mb: int = Field(default=512, gt=0, description="memory limit of each app (MiB)")
    app_pids: int = 128
    app_cpu: float = Field(default=1.0, gt=0, description="CPU cores per app instance")
    sandbox_cgroups: bool = Field(
        default=True, description="enforce limits with cgroups when writable (else rlimits only)"
    )
    drain_s: float = 1.0
    reconcile_every_s: float = Field(
        default=60.0, gt=0, description="how often a worker compares its instances with routes"
    )
    orphan_grace_s: float = Field(
        default=600.0, ge=0, description="an unrouted instance younger than this is left alone"
    )

    # Egress (runtime/egress): apps reach declared, approved hosts through this host's proxy
    egress: bool = Field(
        default=True, description="run this host's egress proxy and join apps declaring egress"
    )
    egress_allow: str = Field(
        default="",
        description="comma-separated host:port (or *.domain:port) every app may reach once"
        " it declares it, without an operator's approval",
    )
    egress_deny: str = Field(
        default="",
        description="comma-separated host names (or *.domain) no app may reach, whatever else"
        " allows them; private, loopback, link-local and metadata addresses always are",
    )
    egress_hosts_file: Path | None = Field(
        default=None, description="names the proxy resolves from this hosts file before DNS"
    )
    egress_connections_per_minute: int = Field(default=120, ge=1)
    egress_bytes_per_hour: int = Field(default=256 * 1024 * 1024, ge=1024)
    egress_max_concurrent: int = Field(default=32, ge=1)

    @field_validator("egress_allow", "egress_deny")
    @classmethod
    def _egress_lists(cls, value: str, info: ValidationInfo) -> str:
        for entry in _comma_list(value):
            try:
                if info.field_name == "egress_allow":
                    EgressTarget.parse(entry)
                else:
                    check_host(entry)
            except ValueError as exc:
                raise ValueError(f"MB_{str(info.field_name).upper()}: {exc}") from None
        return value

    def egress_proxy_config(self) -> ProxyConfig:
        """The host proxy's configuration before any app is attached."""
        return ProxyConfig(
            decision_log=str(self.data_path / "egress" / "decisions.jsonl"),
            platform_allow=tuple(_comma_list(self.egress_allow)),
            platform_deny=tuple(_comma_list(self.egress_deny)),
            hosts_file=str(self.egress_hosts_file) if self.egress_hosts_file else None,
        )

    @property
    def egress_limits(self) -> EgressLimits:
        """Each app's egress budgets."""
        return EgressLimits(
            connections_per_minute=self.egress_connections_per_minute,
            bytes_per_hour=self.egress_bytes_per_hour,
            max_concurrent=self.egress_max_concurrent,
        )

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _proxy_networks(cls, value: object) -> object:
        """Comma-separated in the environment; every entry an address or a network."""
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        if isinstance(value, list):
            for entry in value:
                try:
                    ipaddress.ip_network(str(entry), strict=False)
                except ValueError:
                    raise ValueError(
                        f"MB_TRUSTED_PROXIES: {str(entry)[:60]!r} is not an IP address or network"
                    ) from None
        return value

    def host_capacity(self) -> HostCapacity:
        """What this runtime host registers: its settings, else derived from the machine."""
        memory = self.host_memory_mib
        if memory is None:
            machine = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2**20
            memory = machine * 3 // 4
        max_apps = self.host_max_apps
        if max_apps is None:
            max_apps = memory // self.app_memory_mb
        return HostCapacity(max_apps=max_apps, memory_mib=memory, app_memory_mib=self.app_memory_mb)

    @cached_property
    def data_path(self) -> Path:
        """The data directory as an absolute path."""
        return self.data_dir.expanduser().resolve()

    @property
    def keys_path(self) -> Path:
        """Where the keys live: ``MB_KEY_SOURCE_DIR``, else ``<data dir>/keys``."""
        if self.key_source_dir is not None:
            return self.key_source_dir.expanduser().absolute()
        return self.data_path / "keys"

    @property
    def generates_keys(self) -> bool:
        """Whether missing keys are generated (only in the embedded ``<data dir>/keys``)."""
        return self.key_source_dir is None and self.key_source_plugin is None

    def qa_policy(self) -> QAPolicy:
        """The platform's default QA thresholds (a deployment may override them)."""
        return QAPolicy(
            mutation_threshold=self.qa_mutation_threshold,
            min_mutable_fraction=self.qa_min_mutable_fraction,
            mutation_timeout_s=self.qa_mutation_timeout_s,
            fuzz_examples=self.qa_fuzz_examples,
            fuzz_timeout_s=self.qa_fuzz_timeout_s,
            bandit_fail_severity=self.qa_bandit_fail_severity,
            bandit_fail_severity_high_confidence=self.qa_bandit_fail_severity_high_confidence,
        )

    @property
    def advisory_path(self) -> Path:
        """Where the offline advisory database is read from (a symlink after an update:
        not resolved here, so every scan follows it to the current copy)."""
        return (self.advisory_db or self.data_path / "advisories").expanduser().absolute()

    @property
    def backup_path(self) -> Path | None:
        """Where backups go; None when they are off (or nobody said where, with an
        external database whose archiving this process does not configure)."""
        if not self.backups:
            return None
        if self.backup_dir is not None:
            return self.backup_dir.expanduser().absolute()
        return self.data_path / "backups" if self.embedded_database else None

    @property
    def operators(self) -> frozenset[str]:
        """User ids with operator rights (audit log, payload decoding)."""
        return frozenset(u.strip() for u in self.operator_ids.split(",") if u.strip())

    @property
    def embedded_temporal(self) -> bool:
        """True when ``mb up`` must run the Temporal dev server itself."""
        return self.temporal_address is None

    @property
    def embedded_database(self) -> bool:
        """True when ``mb up`` must run the embedded PostgreSQL itself."""
        return self.database_url is None

    @property
    def temporal_target(self) -> str:
        """host:port of the Temporal frontend."""
        return self.temporal_address or f"127.0.0.1:{self.temporal_port}"

    @property
    def api_base_url(self) -> str:
        """Where users reach the API (deployed apps: ``apps_base_url``)."""
        scheme = "https" if self.tls else "http"
        return self.public_url or f"{scheme}://{self.api_host}:{self.api_port}"

    @property
    def host_gateway_base_url(self) -> str:
        """Where the front gateway reaches this host's gateway."""
        return (
            self.host_gateway_url
            or f"https://{_url_host(self.host_gateway_host)}:{self.host_gateway_port}"
        )

    @property
    def apps_base_url(self) -> str:
        """Where users reach deployed apps: never the API's origin, so an app's scripts
        cannot read API responses with the user's session."""
        scheme = "https" if self.tls else "http"
        return self.apps_public_url or f"{scheme}://{_url_host(self.apps_host)}:{self.apps_port}"

    @property
    def anomaly_thresholds(self) -> Thresholds:
        """The rules' thresholds, from the ``MB_ANOMALY_*`` settings."""
        return Thresholds(
            window_s=self.anomaly_window_s,
            failed_logins=self.anomaly_failed_logins,
            blocked_prompts=self.anomaly_blocked_prompts,
            secret_reads=self.anomaly_secret_reads,
            rate_limited_minutes=self.anomaly_rate_limited_minutes,
            failed_deployments=self.anomaly_failed_deployments,
            egress_refused=self.anomaly_egress_refused,
        )

    @property
    def mail_retry_policy(self) -> MailRetryPolicy:
        """Backoff and budget of mail delivery; a claim outlasts several SMTP timeouts."""
        return MailRetryPolicy(
            initial_s=self.mail_retry_initial_s,
            max_s=self.mail_retry_max_s,
            budget_s=self.mail_retry_budget_s,
            lease_s=max(120.0, 6 * self.smtp_timeout_s),
        )

    @property
    def operator_emails(self) -> list[str]:
        """Where alerts are mailed."""
        return [a.strip() for a in self.alert_emails.split(",") if a.strip()]

    @property
    def codec_url(self) -> str:
        """Where the CLI reaches the codec server (``temporal ... --codec-auth``)."""
        return f"{'https' if self.tls else 'http'}://{self.api_host}:{self.codec_port}"

    @property
    def ui_base_url(self) -> str:
        """The Temporal Web UI the operators' origin serves (never linked to directly)."""
        return self.temporal_ui_url or f"http://127.0.0.1:{self.temporal_ui_port}"

    @property
    def operator_base_url(self) -> str:
        """Where operators reach the Temporal UI, behind our login: on the API's host, so
        the session cookie (host-only, ports ignored) reaches it."""
        scheme = "https" if self.tls else "http"
        return (
            self.operator_public_url
            or f"{scheme}://{_url_host(self.api_host)}:{self.operator_port}"
        ).rstrip("/")

    @property
    def operator_codec_url(self) -> str:
        """The Temporal UI's codec endpoint: a path of the operators' origin."""
        return f"{self.operator_base_url}{OPERATOR_CODEC_PATH}"

    def workflow_ui_url(self, workflow_id: str) -> str:
        """A workflow's page in the operators' Temporal UI."""
        return (
            f"{self.operator_base_url}/namespaces/{self.temporal_namespace}/workflows/{workflow_id}"
        )


def _comma_list(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def _url_host(host: str) -> str:
    """``host`` as it goes in a URL (an IPv6 address in brackets)."""
    return f"[{host}]" if ":" in host else host

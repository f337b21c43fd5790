"""Every workflow this project defines: what a pipeline worker runs and a replayer replays."""

from __future__ import annotations

from workflows.anomaly_scan import AnomalyScanWorkflow
from workflows.app import AppWorkflow
from workflows.backup import BackupWorkflow
from workflows.deployment import DeploymentWorkflow
from workflows.key_rotation import MasterKeyRotationWorkflow
from workflows.mail_delivery import MailDeliveryWorkflow
from workflows.privacy_erasure import PrivacyErasureWorkflow
from workflows.privacy_export import PrivacyExportWorkflow

ALL_WORKFLOWS: tuple[type, ...] = (
    AppWorkflow,
    DeploymentWorkflow,
    MasterKeyRotationWorkflow,
    AnomalyScanWorkflow,
    PrivacyExportWorkflow,
    PrivacyErasureWorkflow,
    BackupWorkflow,
    MailDeliveryWorkflow,
)

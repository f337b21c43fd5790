"""The Temporal names that form our public contract: task queues, ids, search attributes.

Changing any of these breaks running workflows and external starters.
"""

from __future__ import annotations

from temporalio.common import SearchAttributeKey

PIPELINE_TASK_QUEUE = "mb-pipeline"
QA_TASK_QUEUE = "mb-qa"
RUNTIME_TASK_QUEUE_PREFIX = "mb-runtime-"

APP_WORKFLOW_TYPE = "AppWorkflow"
DEPLOYMENT_WORKFLOW_TYPE = "DeploymentWorkflow"
KEY_ROTATION_WORKFLOW_TYPE = "MasterKeyRotationWorkflow"
KEY_ROTATION_WORKFLOW_ID = "key-rotation-master"
ANOMALY_SCAN_WORKFLOW_TYPE = "AnomalyScanWorkflow"
ANOMALY_SCAN_SCHEDULE_ID = "anomaly-scan"
PRIVACY_EXPORT_WORKFLOW_TYPE = "PrivacyExportWorkflow"
PRIVACY_ERASURE_WORKFLOW_TYPE = "PrivacyErasureWorkflow"
BACKUP_WORKFLOW_TYPE = "BackupWorkflow"
BACKUP_SCHEDULE_ID = "daily-backup"
BACKUP_NOW_WORKFLOW_ID = "backup-now"
MAIL_DELIVERY_WORKFLOW_TYPE = "MailDeliveryWorkflow"
MAIL_DELIVERY_SCHEDULE_ID = "mail-delivery"


def privacy_erasure_workflow_id(user_id: str) -> str:
    """One erasure per user: a second request joins the first."""
    return f"privacy-erase-{user_id}"


def privacy_export_workflow_id(user_id: str) -> str:
    """Workflow id of a user's data export (one at a time per user)."""
    return f"privacy-export-{user_id}"


"""One id for every master key rotation: a second one cannot start while one runs."""

SIGNAL_DEPLOY = "deploy"
SIGNAL_ROLLBACK = "rollback"
SIGNAL_REVIEW = "review"
SIGNAL_REFRESH = "refresh"
SIGNAL_RETIRE = "retire"
QUERY_STATUS = "status"
QUERY_RELEASES = "releases"

SA_APP_ID = SearchAttributeKey.for_keyword("MbAppId")
SA_OWNER_ID = SearchAttributeKey.for_keyword("MbOwnerId")
SA_STAGE = SearchAttributeKey.for_keyword("MbStage")
SEARCH_ATTRIBUTES = (SA_APP_ID, SA_OWNER_ID, SA_STAGE)


def app_workflow_id(app_id: str) -> str:
    """Workflow id of an app's long-lived AppWorkflow."""
    return f"app-{app_id}"


def deployment_workflow_id(app_id: str, deployment_id: str) -> str:
    """Workflow id of one DeploymentWorkflow."""
    return f"deploy-{app_id}-{deployment_id}"


def runtime_task_queue(host: str) -> str:
    """The worker-specific task queue of a runtime host."""
    return f"{RUNTIME_TASK_QUEUE_PREFIX}{host}"


# Activity names (stable: they are recorded in workflow histories).
ACTIVITY_MODERATE = "moderate_prompt"
ACTIVITY_MODERATE_BUNDLE = "moderate_bundle_text"
ACTIVITY_GENERATE = "generate_bundle"
ACTIVITY_REPAIR = "repair_bundle"
ACTIVITY_REPAIR_BUDGET = "generation_repair_budget"
ACTIVITY_RUN_TESTS = "run_tests"
ACTIVITY_RUN_MUTATION = "run_mutation"
ACTIVITY_RUN_FUZZ = "run_fuzz"
ACTIVITY_RUN_STATIC = "run_static_analysis"
ACTIVITY_RUN_DEPS = "run_dependency_scan"
ACTIVITY_RECORD_QA_REPORT = "record_qa_report"
ACTIVITY_SELECT_HOST = "select_runtime_host"
ACTIVITY_START_INSTANCE = "start_instance"
ACTIVITY_HEALTH_CHECK = "health_check"
ACTIVITY_STOP_INSTANCE = "stop_instance"
ACTIVITY_SWITCH_TRAFFIC = "switch_traffic"
ACTIVITY_CLEAR_ROUTE = "clear_route"
ACTIVITY_RECORD_RELEASE = "record_release"
ACTIVITY_REWRAP_DATA_KEYS = "rewrap_data_keys"
ACTIVITY_RETIRE_MASTER_KEYS = "retire_master_keys"
ACTIVITY_SCAN_ANOMALIES = "scan_anomalies"
ACTIVITY_BUILD_EXPORT = "build_privacy_export"
ACTIVITY_NOTIFY_EXPORT = "notify_privacy_export"
ACTIVITY_TAKE_BASE_BACKUP = "take_base_backup"
ACTIVITY_VERIFY_BACKUP = "verify_backup"
ACTIVITY_RESTORE_DRILL = "restore_drill"
ACTIVITY_PRUNE_BACKUPS = "prune_backups"
ACTIVITY_ALERT_BACKUP = "alert_backup"
ACTIVITY_DELIVER_MAIL = "deliver_mail"
ACTIVITY_BEGIN_ERASURE = "begin_privacy_erasure"
ACTIVITY_NOTIFY_ERASURE = "notify_privacy_erasure"
ACTIVITY_RETIRE_USER_APP = "retire_user_app"
ACTIVITY_SHRED_USER_KEY = "shred_user_key"
ACTIVITY_ERASE_USER_DATA = "erase_user_data"
ACTIVITY_DELETE_USER_HISTORIES = "delete_user_histories"
ACTIVITY_FINISH_ERASURE = "finish_privacy_erasure"
ACTIVITY_RECORD_REFUSED_SIGNAL = "record_refused_signal"
ACTIVITY_RECORD_APP_STATUS = "record_app_status"
ACTIVITY_RECORD_DEPLOYMENT_STATUS = "record_deployment_status"

# Error types of the verdicts a deployment can end with (ApplicationError.type).
ERROR_PROMPT_BLOCKED = "PromptBlocked"
ERROR_REVIEW_REJECTED = "ReviewRejected"
ERROR_REVIEW_TIMED_OUT = "ReviewTimedOut"
ERROR_QA_GATE_FAILED = "QAGateFailed"
ERROR_EVIDENCE_INVALID = "EvidenceInvalid"
ERROR_MASTER_KEY_UNKNOWN = "MasterKeyUnknown"

# workflow.patched ids (a workflow logic change guarded for running workflows).
PATCH_FULL_QA_GATE = "qa-gate-five-stages"
PATCH_MODERATE_CONTENT = "moderate-visible-text"
PATCH_RECORD_REFUSED_SIGNALS = "record-refused-signals"
PATCH_GENERATION_REPAIR = "generation-repair"
PATCH_QA_MEMO = "qa-verdict-memo"
PATCH_PLACEMENT = "runtime-host-placement"
PATCH_STATUS_READ_MODEL = "status-read-model"
PATCH_QA_ADMISSION = "qa-gate-admission"
PATCH_HOST_LOST = "lost-host-recovery"
ERROR_APP_START_FAILED = "AppStartFailed"
ERROR_HEALTH_CHECK_FAILED = "HealthCheckFailed"
ERROR_ROLLED_BACK = "RolledBackAfterSwitch"
ERROR_NO_RUNTIME_HOST = "NoRuntimeHost"

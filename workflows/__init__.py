"""Deterministic orchestration only: AppWorkflow and DeploymentWorkflow (no I/O here)."""

"""The HTTP API: deployments, status and rollback for the platform, and the app gateway."""

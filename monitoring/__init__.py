"""Error monitoring: Sentry for the API and the workers, scrubbed before sending."""

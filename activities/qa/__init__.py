"""The QA gate's activities: tests run repeatedly in the sandbox (and, later, more stages)."""

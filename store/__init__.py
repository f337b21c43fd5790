"""Persistence: PostgreSQL (pool, migrations, repositories) and the bundle format."""

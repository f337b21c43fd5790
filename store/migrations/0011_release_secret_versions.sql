-- The secret versions each release first started with: a rollback (or a restart of
-- the live release) starts it with those, not with whatever is current.
CREATE TABLE release_secret_versions (
    app_id      text NOT NULL REFERENCES apps (app_id),
    version     integer NOT NULL CHECK (version >= 1),
    secrets     jsonb NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (app_id, version)
);

-- Issue 20: status without a workflow query per read. The workflows publish their
-- status (record_app_status / record_deployment_status activities) and the API reads
-- it here. Each row is the newest snapshot its workflow published: ``seq`` grows with
-- every snapshot (seeded by workflow time, so it also grows across continue-as-new and
-- a new run), and a retried or late write with a lower one changes nothing. ``status``
-- is the snapshot as JSON text (AppStatus / DeploymentStatus): text, not jsonb, which
-- refuses the \u0000 a user-written string may carry. Rows go with their app (deleted
-- or erased); no secret value is ever in them (releases carry secret names only).
CREATE TABLE app_status_views (
    app_id     text PRIMARY KEY REFERENCES apps (app_id),
    seq        bigint NOT NULL,
    status     text NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE deployment_status_views (
    app_id        text NOT NULL REFERENCES apps (app_id),
    deployment_id text NOT NULL,
    seq           bigint NOT NULL,
    status        text NOT NULL,
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (app_id, deployment_id)
);

-- QA gates waiting for a worker's admission, and their place in its queue (1: next).
-- Each worker replaces its own rows as the queue moves and refreshes them while it
-- lives; readers ignore rows a worker stopped refreshing (it died).
CREATE TABLE qa_queue_positions (
    worker         text NOT NULL,
    app_id         text NOT NULL,
    deployment_id  text NOT NULL,
    owner_id       text NOT NULL,
    position       integer NOT NULL CHECK (position >= 1),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (worker, app_id, deployment_id)
);
CREATE INDEX qa_queue_positions_deployment ON qa_queue_positions (app_id, deployment_id);

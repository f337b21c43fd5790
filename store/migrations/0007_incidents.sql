-- Incidents: every rollback (by hand or automatic) and every reconciliation fix,
-- for operators to list. One row per triggering request (retries add nothing).
CREATE TABLE incidents (
    id          bigserial PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT now(),
    kind        text NOT NULL CHECK (kind IN ('rollback', 'automatic_rollback', 'reconciliation')),
    app_id      text NOT NULL,
    owner_id    text NOT NULL,
    from_version integer,
    to_version  integer,
    reason      text NOT NULL,
    actor       text NOT NULL,
    request_id  text NOT NULL UNIQUE
);
CREATE INDEX incidents_app ON incidents (app_id, at);

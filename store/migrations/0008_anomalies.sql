-- Anomaly detection: alerts raised by the scheduled rules, and users suspended
-- from deploying (by the blocked-prompt rule) until an operator reinstates them.
ALTER TABLE users
    ADD COLUMN suspended_at     timestamptz,
    ADD COLUMN suspended_reason text;

CREATE TABLE alerts (
    id         bigserial PRIMARY KEY,
    at         timestamptz NOT NULL DEFAULT now(),
    rule       text NOT NULL,
    subject    text NOT NULL,
    summary    text NOT NULL,
    detail     jsonb NOT NULL DEFAULT '{}',
    -- one alert per rule, subject and scan window: a retried scan adds nothing
    dedupe_key text NOT NULL UNIQUE
);
CREATE INDEX alerts_at ON alerts (at);

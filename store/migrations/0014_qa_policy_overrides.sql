-- An operator's per-app floor for the QA gate, below the platform's minimum (audited).
-- A deployment may ask for a stricter gate than its floor, never a weaker one.
CREATE TABLE qa_policy_overrides (
    app_id  text PRIMARY KEY,
    policy  jsonb NOT NULL,
    reason  text NOT NULL,
    set_by  text NOT NULL,
    set_at  timestamptz NOT NULL DEFAULT now()
);

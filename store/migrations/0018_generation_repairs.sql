-- A prompt deployment's QA gate may judge more than one bundle: a generated bundle
-- that fails goes back to the generator with the report's findings, and its repair is
-- judged again. Each attempt keeps its own report (attempt 1 is the generated bundle).
ALTER TABLE qa_reports ADD COLUMN attempt integer NOT NULL DEFAULT 1 CHECK (attempt >= 1);
ALTER TABLE qa_reports DROP CONSTRAINT qa_reports_pkey;
ALTER TABLE qa_reports ADD PRIMARY KEY (deployment_id, attempt);

-- The repaired bundles, one per deployment, attempt and bundle repaired: a retried
-- repair finds its bundle here and never asks the generator twice.
CREATE TABLE generation_repairs (
    app_id           text NOT NULL,
    deployment_id    text NOT NULL,
    attempt          integer NOT NULL CHECK (attempt >= 2),
    from_bundle_hash text NOT NULL,
    owner_id         text NOT NULL,
    report_sha256    text NOT NULL,
    bundle_hash      text NOT NULL REFERENCES artifacts (sha256),
    backend          text NOT NULL,
    file_count       integer NOT NULL,
    findings_chars   integer NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (app_id, deployment_id, attempt, from_bundle_hash)
);
CREATE INDEX generation_repairs_owner ON generation_repairs (owner_id);

-- The QA gate's reports (one per deployment) and the signed evidence of passed gates.

CREATE TABLE qa_reports (
    deployment_id text PRIMARY KEY,
    app_id        text NOT NULL,
    owner_id      text NOT NULL,
    bundle_hash   text NOT NULL,
    verdict       text NOT NULL CHECK (verdict IN ('pass', 'fail')),
    report_sha256 text NOT NULL REFERENCES artifacts (sha256),
    summary       text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX qa_reports_owner ON qa_reports (owner_id, created_at);

-- Evidence is append-only: a passed gate signs (bundle, report, verdicts, policy,
-- tool versions) once; releases point at it; nothing starts without it.
CREATE TABLE qa_evidence (
    id            text PRIMARY KEY,
    deployment_id text NOT NULL UNIQUE,
    app_id        text NOT NULL,
    bundle_hash   text NOT NULL,
    report_sha256 text NOT NULL,
    payload       text NOT NULL,
    key_id        text NOT NULL,
    signature     bytea NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX qa_evidence_bundle ON qa_evidence (app_id, bundle_hash);

ALTER TABLE releases ADD COLUMN evidence_id text REFERENCES qa_evidence (id);

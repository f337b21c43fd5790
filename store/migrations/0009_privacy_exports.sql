-- Privacy exports (GDPR art. 15 / CCPA right to know): one row per archive built;
-- the archive itself is an artifact (a zip), found by its hash.
CREATE TABLE privacy_exports (
    export_id  text PRIMARY KEY,
    user_id    text NOT NULL,
    sha256     text NOT NULL REFERENCES artifacts (sha256),
    size       integer NOT NULL,
    sections   jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX privacy_exports_user ON privacy_exports (user_id, created_at);

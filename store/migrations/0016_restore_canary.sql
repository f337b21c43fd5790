-- The restore drill's canary: a secret of a system owner, refreshed before every
-- base backup, with what the drill checks in a restored copy: the SHA-256 of its
-- value, a payload encrypted with the payload (codec) key ring, and a signature
-- by the evidence key ring over all three. The app id is reserved here so no user
-- can take it; no person owns it.
INSERT INTO apps (app_id, owner_id) VALUES ('mb-restore-drill', 'system:restore-drill')
    ON CONFLICT DO NOTHING;

CREATE TABLE restore_canary (
    id              smallint PRIMARY KEY DEFAULT 1 CHECK (id = 1),
    secret_version  integer NOT NULL CHECK (secret_version >= 1),
    value_sha256    text NOT NULL CHECK (value_sha256 ~ '^[0-9a-f]{64}$'),
    payload         bytea NOT NULL,
    evidence_key_id text NOT NULL,
    signature       bytea NOT NULL,
    refreshed_at    timestamptz NOT NULL DEFAULT now()
);

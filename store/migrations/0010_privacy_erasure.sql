-- Privacy erasure (GDPR art. 17 / CCPA right to delete).
-- The users row stays as a tombstone (its id is referenced by the append-only
-- audit log and is never reused) but loses everything that identifies a person.
ALTER TABLE users ADD COLUMN erased_at timestamptz;

-- Moderation entries are kept for their retention period, pseudonymised: the
-- prompt text goes, the digest, verdict and categories stay.
ALTER TABLE moderation_log ALTER COLUMN prompt DROP NOT NULL;
ALTER TABLE moderation_log ADD COLUMN pseudonymised_at timestamptz;

-- One row per erasure: what was asked, by whom, and what was done (counts only).
CREATE TABLE privacy_erasures (
    user_id        text PRIMARY KEY REFERENCES users (id),
    requested_by   text NOT NULL,
    requested_at   timestamptz NOT NULL DEFAULT now(),
    notice_mail_id bigint,
    erased         jsonb,
    key_shredded   boolean NOT NULL DEFAULT false,
    finished_at    timestamptz
);

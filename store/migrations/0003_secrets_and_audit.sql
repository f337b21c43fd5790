-- Secrets (envelope encryption) and the append-only, hash-chained audit log.

-- Master keys are never stored here: only their ids, so rotation knows which
-- ones are still in use and which are retired.
CREATE TABLE master_keys (
    id         text PRIMARY KEY CHECK (id ~ '^[0-9a-f]{16}$'),
    added_at   timestamptz NOT NULL DEFAULT now(),
    retired_at timestamptz
);

-- One data key per owner (a new version after a rotation of the owner's key),
-- AES-256-GCM wrapped by a master key; associated data binds it to
-- (owner, version, master key id).
CREATE TABLE data_keys (
    owner_id      text NOT NULL,
    version       integer NOT NULL CHECK (version >= 1),
    master_key_id text NOT NULL REFERENCES master_keys (id),
    wrapped       bytea NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    rewrapped_at  timestamptz,
    PRIMARY KEY (owner_id, version)
);
CREATE INDEX data_keys_master ON data_keys (master_key_id);

-- Every version of every secret; a deleted secret keeps its rows (the version
-- numbers stay monotonic) but loses its ciphertext.
CREATE TABLE secrets (
    owner_id         text NOT NULL,
    app_id           text NOT NULL REFERENCES apps (app_id),
    name             text NOT NULL CHECK (name ~ '^[A-Z_][A-Z0-9_]{0,63}$'),
    version          integer NOT NULL CHECK (version >= 1),
    data_key_version integer NOT NULL,
    ciphertext       bytea,
    size             integer NOT NULL CHECK (size BETWEEN 0 AND 65536),
    created_by       text NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    deleted_at       timestamptz,
    PRIMARY KEY (app_id, name, version),
    FOREIGN KEY (owner_id, data_key_version) REFERENCES data_keys (owner_id, version),
    CHECK ((deleted_at IS NULL) = (ciphertext IS NOT NULL))
);
CREATE INDEX secrets_owner ON secrets (owner_id);

CREATE TABLE audit_log (
    seq       bigint PRIMARY KEY CHECK (seq >= 1),
    at        timestamptz NOT NULL,
    actor     text NOT NULL,
    client_ip text,
    action    text NOT NULL,
    resource  text NOT NULL,
    outcome   text NOT NULL CHECK (outcome IN ('ok', 'denied', 'failed')),
    detail    jsonb NOT NULL DEFAULT '{}',
    prev_hash bytea NOT NULL,
    hash      bytea NOT NULL UNIQUE
);
CREATE INDEX audit_log_actor ON audit_log (actor, seq);
CREATE INDEX audit_log_resource ON audit_log (resource, seq);
CREATE INDEX audit_log_at ON audit_log (at);

CREATE FUNCTION audit_log_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER audit_log_no_update_or_delete BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_is_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_is_append_only();
-- The trigger stops the owner too; the grants stop every other role even if
-- the trigger were dropped by someone who owns the table.
REVOKE UPDATE, DELETE, TRUNCATE ON audit_log FROM PUBLIC;

-- Real identities: users from an OpenID Connect provider (issuer + sub), email
-- verification, server-side sessions, the login flow's PKCE/state/nonce, scoped
-- service tokens and the mail outbox.

-- Users provisioned by an operator (mb token create) have no issuer; users who
-- log in through OIDC are keyed by (issuer, subject), never by email.
ALTER TABLE users
    ADD COLUMN issuer            text,
    ADD COLUMN subject           text,
    ADD COLUMN email             text,
    ADD COLUMN email_verified_at timestamptz;
ALTER TABLE users ADD CONSTRAINT users_identity UNIQUE (issuer, subject);
-- Operator-provisioned users existed before verification did: they were vouched for.
UPDATE users SET email_verified_at = created_at WHERE issuer IS NULL;

-- Server-side sessions; the cookie carries a random id, the table its SHA-256.
CREATE TABLE sessions (
    id_sha256    bytea PRIMARY KEY,
    user_id      text NOT NULL REFERENCES users (id),
    csrf_token   text NOT NULL,
    created_at   timestamptz NOT NULL,
    last_seen_at timestamptz NOT NULL,
    revoked_at   timestamptz,
    client_ip    text,
    user_agent   text
);
CREATE INDEX sessions_user_live ON sessions (user_id) WHERE revoked_at IS NULL;

-- One row per login started: PKCE verifier, state and nonce bound to the
-- browser's login cookie (its SHA-256 is the key); single use.
CREATE TABLE login_attempts (
    id_sha256     bytea PRIMARY KEY,
    state         text NOT NULL,
    nonce         text NOT NULL,
    code_verifier text NOT NULL,
    return_to     text NOT NULL,
    created_at    timestamptz NOT NULL,
    used_at       timestamptz
);
CREATE INDEX login_attempts_created ON login_attempts (created_at);

-- Email verification links: the link is signed and names this row; using it
-- sets used_at, so each link works once.
CREATE TABLE email_verifications (
    id         text PRIMARY KEY,
    user_id    text NOT NULL REFERENCES users (id),
    email      text NOT NULL,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    used_at    timestamptz
);
CREATE INDEX email_verifications_user ON email_verifications (user_id);

-- Every mail we send is written here first (the embedded default delivers
-- nothing further); SMTP delivery records its outcome on the row.
CREATE TABLE mail_outbox (
    id         bigserial PRIMARY KEY,
    recipient  text NOT NULL,
    subject    text NOT NULL,
    body       text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    sent_at    timestamptz,
    attempts   integer NOT NULL DEFAULT 0,
    last_error text
);
CREATE INDEX mail_outbox_unsent ON mail_outbox (id) WHERE sent_at IS NULL;

-- Service tokens: a name and scopes; NULL scopes means every scope (the
-- operator-issued tokens that predate scopes).
ALTER TABLE api_tokens
    ADD COLUMN name   text,
    ADD COLUMN scopes text[];

-- Deleted apps keep their row (releases and evidence refer to it) and their id
-- is never handed out again; everything else treats them as gone.
ALTER TABLE apps ADD COLUMN deleted_at timestamptz;

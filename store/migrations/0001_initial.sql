-- Foundation schema: users and API tokens, apps, content-addressed artifacts,
-- the moderation log, releases and the gateway's live routes.

CREATE TABLE users (
    id           text PRIMARY KEY,
    display_name text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE api_tokens (
    id           text PRIMARY KEY,
    user_id      text NOT NULL REFERENCES users (id),
    token_sha256 bytea NOT NULL UNIQUE,
    created_at   timestamptz NOT NULL DEFAULT now(),
    revoked_at   timestamptz
);

-- owner_id is the platform's user id (no foreign key: the platform may start
-- deployments for users this database has not seen).
CREATE TABLE apps (
    app_id     text PRIMARY KEY CHECK (app_id ~ '^[a-z][a-z0-9-]{1,38}[a-z0-9]$'),
    owner_id   text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX apps_owner ON apps (owner_id);

CREATE TABLE artifacts (
    sha256     text PRIMARY KEY CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    kind       text NOT NULL,
    size       integer NOT NULL CHECK (size >= 0),
    data       bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE moderation_log (
    id            bigserial PRIMARY KEY,
    created_at    timestamptz NOT NULL DEFAULT now(),
    deployment_id text NOT NULL UNIQUE,
    owner_id      text NOT NULL,
    app_id        text NOT NULL,
    prompt        text NOT NULL,
    prompt_sha256 text NOT NULL,
    verdict       text NOT NULL CHECK (verdict IN ('allow', 'flag', 'block')),
    categories    jsonb NOT NULL,
    reason        text NOT NULL,
    backend       text NOT NULL
);
CREATE INDEX moderation_log_owner ON moderation_log (owner_id, created_at);

CREATE TABLE releases (
    app_id        text NOT NULL REFERENCES apps (app_id),
    version       integer NOT NULL CHECK (version >= 1),
    deployment_id text NOT NULL UNIQUE,
    bundle_hash   text NOT NULL REFERENCES artifacts (sha256),
    host          text NOT NULL,
    instance_id   text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (app_id, version)
);

-- The gateway's pointer: which instance serves an app right now.
CREATE TABLE routes (
    app_id      text PRIMARY KEY REFERENCES apps (app_id),
    version     integer NOT NULL,
    instance_id text NOT NULL,
    socket_path text NOT NULL,
    host        text NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE route_events (
    id            bigserial PRIMARY KEY,
    at            timestamptz NOT NULL DEFAULT now(),
    app_id        text NOT NULL,
    from_version  integer,
    to_version    integer,
    reason        text NOT NULL,
    request_id    text NOT NULL UNIQUE
);

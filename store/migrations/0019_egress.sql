-- Egress (issue 21). An operator's decision on a declared host:port, per app: approved
-- targets are served to every later release of the app that declares them.
CREATE TABLE egress_approvals (
    app_id      text NOT NULL,
    target      text NOT NULL,
    decision    text NOT NULL CHECK (decision IN ('approve', 'reject')),
    reason      text NOT NULL,
    decided_by  text NOT NULL,
    decided_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (app_id, target)
);

-- Declared targets no operator decided yet: the egress part of the review queue.
CREATE TABLE egress_requests (
    app_id        text NOT NULL,
    target        text NOT NULL,
    version       integer NOT NULL,
    requested_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (app_id, target)
);

-- Every refusal of the egress proxy (append-only), from its decision log.
CREATE TABLE egress_refusals (
    id       bigserial PRIMARY KEY,
    at       timestamptz NOT NULL,
    host     text NOT NULL,
    app_id   text NOT NULL,
    version  integer NOT NULL,
    target   text NOT NULL,
    port     integer NOT NULL,
    reason   text NOT NULL,
    detail   text NOT NULL DEFAULT ''
);
CREATE INDEX egress_refusals_at ON egress_refusals (at);
CREATE INDEX egress_refusals_app ON egress_refusals (app_id, at);

-- Allowed connections counted per app and upstream host:port.
CREATE TABLE egress_counts (
    app_id       text NOT NULL,
    target       text NOT NULL,
    port         integer NOT NULL,
    connections  bigint NOT NULL DEFAULT 0,
    bytes_up     bigint NOT NULL DEFAULT 0,
    bytes_down   bigint NOT NULL DEFAULT 0,
    last_at      timestamptz NOT NULL,
    PRIMARY KEY (app_id, target, port)
);

-- How far each runtime host's decision log has been read (bytes).
CREATE TABLE egress_log_offsets (
    host      text NOT NULL,
    log_path  text NOT NULL,
    read_to   bigint NOT NULL,
    PRIMARY KEY (host, log_path)
);

-- Runtime hosts (issue 20): each worker registers the host it runs apps on, with its
-- capacity, and heartbeats; placement chooses among live, active hosts. Draining hosts
-- take no new apps; once none is routed to them they are drained.
CREATE TABLE runtime_hosts (
    name              text PRIMARY KEY,
    max_apps          integer NOT NULL CHECK (max_apps >= 0),
    memory_mib        integer NOT NULL CHECK (memory_mib >= 0),
    app_memory_mib    integer NOT NULL CHECK (app_memory_mib > 0),
    state             text NOT NULL DEFAULT 'active'
                      CHECK (state IN ('active', 'draining', 'drained')),
    registered_at     timestamptz NOT NULL DEFAULT now(),
    heartbeat_at      timestamptz NOT NULL DEFAULT now(),
    state_changed_at  timestamptz NOT NULL DEFAULT now()
);

-- The latest placement of each app: counted as load on its host until its route
-- follows (or the hold passes), so concurrent placements do not all pick one host.
CREATE TABLE host_placements (
    app_id     text PRIMARY KEY,
    host       text NOT NULL REFERENCES runtime_hosts (name),
    placed_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX host_placements_host ON host_placements (host, placed_at);
CREATE INDEX routes_host ON routes (host);

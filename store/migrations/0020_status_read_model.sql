-- Issue 20: status without a workflow query per read. The workflows publish their
-- status (record_app_status / record_deployment_status activities) and the API reads
-- it here. Each row is the newest snapshot its workflow published: ``seq`` grows with
-- every snapshot (seeded by workflow time, so it also grows across continue-as-new and
-- a new run), and a retried or late write with a lower one changes nothing. ``status``
-- is the snapshot as JSON text (AppStatus / DeploymentStatus): text, not jsonb, which
-- refuses the \u0000 a user-written string may carry. Rows go with their app (deleted
-- or erased); no secret value is ever in them (releases carry secret names only).
CREATE TABLE app_status_views (
    app_id     text PRIMARY KEY REFERENCES apps (app_id),
    seq        bigint NOT NULL,
    status     text NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE deployment_status_views (
    app_id        text NOT NULL REFERENCES apps (app_id),
    deployment_id text NOT NULL,
    seq           bigint NOT NULL,
    status        text NOT NULL,
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (app_id, deployment_id)
);

-- The sliding-window rate limiter, bounded: each key kept the time of every request
-- admitted in the last window, so a hit rewrote (twice) an array as long as the limit,
-- and the status route spent its time there. Now each key keeps one (latest time,
-- count) pair per second of requests: at most window_s + 1 pairs whatever the limit.
-- A second's requests count until its latest one leaves the window, so the limiter
-- may refuse up to a second early, never admit more: no span of one window admits
-- more than the limit. Only a minute's worth of state: the old rows are dropped.
DROP FUNCTION rate_limit_hit(text, double precision, double precision, integer);
DROP TABLE rate_limits;

CREATE TABLE rate_limits (
    key         text PRIMARY KEY,
    times       double precision[] NOT NULL,  -- per second with requests: its latest, oldest first
    counts      integer[] NOT NULL,           -- requests admitted in that second
    refused_in  bigint,                       -- the window number of the latest refusal
    touched_at  double precision NOT NULL     -- the latest request's time (for pruning)
);
CREATE INDEX rate_limits_touched ON rate_limits (touched_at);

-- Count one request of p_key made at p_now (epoch seconds): admitted when fewer than
-- p_limit requests are counted in (p_now - p_window, p_now]. A refusal is not recorded
-- as a request; first_refusal is true for the key's first refusal within each fixed
-- window (floor(p_now / p_window)), which the API audits. The row lock taken by the
-- upsert serialises concurrent requests of one key, across every API process.
CREATE FUNCTION rate_limit_hit(
    p_key text,
    p_now double precision,
    p_window double precision,
    p_limit integer,
    OUT allowed boolean,
    OUT retry_after double precision,
    OUT first_refusal boolean
) LANGUAGE plpgsql AS $$
DECLARE
    old_times double precision[];
    old_counts integer[];
    kept_times double precision[] := '{}';
    kept_counts integer[] := '{}';
    total integer := 0;
    leaving integer := 0;
    n integer;
    refused bigint;
    this_window bigint := floor(p_now / p_window)::bigint;
BEGIN
    -- Requests of one key queue on its row lock until the count commits: without
    -- waiting for the WAL flush, the lock is held for the count, not the disk. A
    -- PostgreSQL crash may forget the last fraction of a second of counts.
    PERFORM set_config('synchronous_commit', 'off', true);
    INSERT INTO rate_limits AS r (key, times, counts, touched_at)
    VALUES (p_key, '{}', '{}', p_now)
    ON CONFLICT (key) DO UPDATE SET touched_at = greatest(r.touched_at, excluded.touched_at)
    RETURNING r.times, r.counts, r.refused_in INTO old_times, old_counts, refused;
    FOR i IN 1 .. coalesce(cardinality(old_times), 0) LOOP
        IF old_times[i] > p_now - p_window THEN
            kept_times := kept_times || old_times[i];
            kept_counts := kept_counts || old_counts[i];
            total := total + old_counts[i];
        END IF;
    END LOOP;
    n := coalesce(cardinality(kept_times), 0);
    allowed := total < p_limit;
    first_refusal := false;
    retry_after := 0;
    IF allowed THEN
        -- Same second as the newest pair (or, from a process whose clock is a little
        -- behind, an earlier one): counted with it, until the later of the two leaves.
        IF n > 0 AND floor(p_now) <= floor(kept_times[n]) THEN
            kept_times[n] := greatest(kept_times[n], p_now);
            kept_counts[n] := kept_counts[n] + 1;
        ELSE
            kept_times := kept_times || p_now;
            kept_counts := kept_counts || 1;
        END IF;
    ELSE
        -- Room again once the oldest seconds holding total - p_limit + 1 requests left.
        FOR i IN 1 .. n LOOP
            leaving := leaving + kept_counts[i];
            IF leaving >= total - p_limit + 1 THEN
                retry_after := kept_times[i] + p_window - p_now;
                EXIT;
            END IF;
        END LOOP;
        first_refusal := refused IS DISTINCT FROM this_window;
        refused := this_window;
    END IF;
    UPDATE rate_limits SET times = kept_times, counts = kept_counts, refused_in = refused
    WHERE key = p_key;
END
$$;

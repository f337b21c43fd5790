-- Sliding-window request limits. Fixed windows let up to twice the limit through
-- across a window boundary; here each key keeps the times of its requests admitted
-- within the last window, so no span of one window ever admits more than the limit.
-- The old counters are only a minute's worth of state: they are dropped.
DROP TABLE rate_limits;

CREATE TABLE rate_limits (
    key         text PRIMARY KEY,
    admitted    double precision[] NOT NULL,  -- epoch seconds, oldest first, within a window
    refused_in  bigint,                       -- the window number of the latest refusal
    touched_at  double precision NOT NULL     -- the latest request's time (for pruning)
);
CREATE INDEX rate_limits_touched ON rate_limits (touched_at);

-- Count one request of p_key made at p_now (epoch seconds): admitted when fewer than
-- p_limit requests were admitted in (p_now - p_window, p_now]. A refusal is not
-- recorded as a request (a client that keeps retrying is not locked out for ever);
-- first_refusal is true for the key's first refusal within each fixed window
-- (floor(p_now / p_window)), which the API audits. The row lock taken by the upsert
-- serialises concurrent requests of one key, across every API process.
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
    kept double precision[];
    refused bigint;
    this_window bigint := floor(p_now / p_window)::bigint;
BEGIN
    INSERT INTO rate_limits AS r (key, admitted, touched_at) VALUES (p_key, '{}', p_now)
    ON CONFLICT (key) DO UPDATE SET touched_at = greatest(r.touched_at, excluded.touched_at)
    RETURNING r.admitted, r.refused_in INTO kept, refused;
    kept := ARRAY(SELECT t FROM unnest(kept) AS t WHERE t > p_now - p_window ORDER BY t);
    allowed := cardinality(kept) < p_limit;
    first_refusal := false;
    retry_after := 0;
    IF allowed THEN
        kept := kept || p_now;
    ELSE
        -- The span stays full until the oldest of the newest p_limit requests leaves it.
        retry_after := kept[cardinality(kept) - p_limit + 1] + p_window - p_now;
        first_refusal := refused IS DISTINCT FROM this_window;
        refused := this_window;
    END IF;
    UPDATE rate_limits SET admitted = kept, refused_in = refused WHERE key = p_key;
END
$$;

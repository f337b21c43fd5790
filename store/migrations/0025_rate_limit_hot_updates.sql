-- Every counted request updates its key's rate_limits row. With touched_at indexed, no
-- such update could be HOT (an indexed column changed): each wrote a new entry into the
-- primary key's index and this one, for a row that a busy key rewrites many times a
-- second. Pruning, the index's only reader, now runs at most once per window per API
-- process, where a scan of the table costs little.
DROP INDEX rate_limits_touched;

-- Lost runtime hosts (issue 20): a host whose heartbeat stopped while apps were routed
-- to it is marked lost; its apps are started again elsewhere, each with a host_lost
-- incident; it takes no new app until an operator undrains it.
ALTER TABLE runtime_hosts DROP CONSTRAINT runtime_hosts_state_check;
ALTER TABLE runtime_hosts ADD CONSTRAINT runtime_hosts_state_check
    CHECK (state IN ('active', 'draining', 'drained', 'lost'));
ALTER TABLE incidents DROP CONSTRAINT incidents_kind_check;
ALTER TABLE incidents ADD CONSTRAINT incidents_kind_check
    CHECK (kind IN ('rollback', 'automatic_rollback', 'reconciliation', 'refused_signal',
                    'host_lost'));

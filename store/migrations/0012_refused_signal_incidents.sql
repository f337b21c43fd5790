-- A signal whose payload could not be decoded or validated is refused by the workflow
-- and recorded as an incident (it used to wedge the workflow instead).
ALTER TABLE incidents DROP CONSTRAINT incidents_kind_check;
ALTER TABLE incidents ADD CONSTRAINT incidents_kind_check
    CHECK (kind IN ('rollback', 'automatic_rollback', 'reconciliation', 'refused_signal'));

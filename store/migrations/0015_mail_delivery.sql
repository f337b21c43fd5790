-- Scheduled, at-most-once delivery of the outbox. A deliverer claims a row for a
-- lease (claimed_until, with its claim token) before sending it, so two
-- overlapping deliverers never send the same row; a failed attempt sets the next
-- attempt's time (exponential backoff); a row still failing after the retry budget
-- is given up (kept, never deleted) and raises one operator alert (alerted_at).
ALTER TABLE mail_outbox
    ADD COLUMN next_attempt_at timestamptz NOT NULL DEFAULT now(),
    ADD COLUMN claimed_until   timestamptz,
    ADD COLUMN claim_token     text,
    ADD COLUMN given_up_at     timestamptz,
    ADD COLUMN alerted_at      timestamptz,
    -- operator alerts about given-up mail are not themselves alerted when given up
    ADD COLUMN kind            text NOT NULL DEFAULT 'notice' CHECK (kind IN ('notice', 'alert'));

DROP INDEX mail_outbox_unsent;
-- Pending mail, per recipient in queue order (delivery keeps each recipient's order).
CREATE INDEX mail_outbox_pending ON mail_outbox (lower(recipient), id)
    WHERE sent_at IS NULL AND given_up_at IS NULL;
CREATE INDEX mail_outbox_due ON mail_outbox (next_attempt_at, id)
    WHERE sent_at IS NULL AND given_up_at IS NULL;
CREATE INDEX mail_outbox_unalerted ON mail_outbox (id)
    WHERE given_up_at IS NOT NULL AND alerted_at IS NULL;

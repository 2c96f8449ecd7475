-- One worker at a time per termination: claim_due sets a fresh claim_token with the lease,
-- and every write of the outcome must present it, so a worker whose lease ran out (a
-- throttled call, a pause) cannot overwrite or duplicate the new holder's work.
-- settle_asked: Graph said the relationship ended while a worker held the row; the holder
-- reads the row back at once instead of the lease being cut short under it.
SET LOCAL lock_timeout = '5s';
ALTER TABLE terminations
    ADD COLUMN claim_token uuid,
    ADD COLUMN settle_asked boolean NOT NULL DEFAULT false;

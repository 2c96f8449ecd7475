-- A termination is tracked until Graph confirms it: `requested` rows hold the Graph request
-- (or, with no request id, a termination or deletion already under way) and are read back
-- with backoff. The row is the durable queue, so a restart resumes the tracking.
SET LOCAL lock_timeout = '5s';
ALTER TABLE terminations DROP CONSTRAINT terminations_state_check;
ALTER TABLE terminations ADD CONSTRAINT terminations_state_check
    CHECK (state IN ('pending', 'requested', 'terminated', 'failed'));
ALTER TABLE terminations
    -- Whose Graph (credentials and list) the relationship is in; NULL: not known.
    ADD COLUMN distributor_id text,
    ADD COLUMN request_id text,
    -- 'terminate' or 'delete' while requested.
    ADD COLUMN request_action text,
    -- Reads of the request (or relationship) since it was made, for the backoff and its cap.
    ADD COLUMN polls integer NOT NULL DEFAULT 0,
    -- What Graph said that counted as revoked (GdapPrivilegesRevoked.confirmedBy).
    ADD COLUMN confirmed_by text,
    ADD COLUMN failed_at timestamptz,
    -- Each time the row fails for good: the failure event's id derives from it.
    ADD COLUMN failures integer NOT NULL DEFAULT 0;
DROP INDEX terminations_due;
CREATE INDEX terminations_due ON terminations (next_attempt_at) WHERE state IN ('pending', 'requested');

ALTER TABLE gdap_relationships ADD COLUMN distributor_id text;

ALTER TABLE termination_ledger
    ADD COLUMN action text NOT NULL DEFAULT 'terminate' CHECK (action IN ('terminate', 'delete')),
    ADD COLUMN request_id text;
UPDATE termination_ledger SET request_id = 'ledger-' || relationship_id WHERE request_id IS NULL;

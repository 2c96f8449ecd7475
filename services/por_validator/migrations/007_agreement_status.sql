-- A rollout's migration must not queue the running consumers behind it for long.
SET LOCAL lock_timeout = '5s';
-- Every Microsoft Partner Agreement status Partner Center gave (compliance agreementstatus),
-- kept like its validation answers: for audit, with the call it came from, and read back
-- as the cache (the newest per (distributor, PLA id) younger than the TTL).
CREATE TABLE partner_center_agreements (
    answer_id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    distributor_id text NOT NULL,
    partner_id     text NOT NULL,
    is_signed      boolean NOT NULL,
    request_id     text NOT NULL,
    correlation_id text NOT NULL,
    answered_at    timestamptz NOT NULL
);
CREATE INDEX partner_center_agreements_latest
    ON partner_center_agreements (distributor_id, partner_id, answered_at DESC);
CREATE INDEX partner_center_agreements_age ON partner_center_agreements (answered_at);

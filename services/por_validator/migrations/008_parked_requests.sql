-- A rollout's migration must not queue the running consumers behind it for long.
SET LOCAL lock_timeout = '5s';
-- Validation requests set aside while their distributor's Partner Center gives no answer
-- (PORGATE_PARTNER_CENTER_UNAVAILABLE=wait), so that the other distributors' requests in the
-- same partitions are decided meanwhile. Decided later in `seq` order, per distributor, by
-- por-validator's drain (services/por_validator/drain.py); a row is deleted once its decision
-- is published, and until then every new request of its distributor is parked behind it.
CREATE TABLE parked_requests (
    seq             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    distributor_id  text NOT NULL,
    transaction_key text NOT NULL,
    event_id        text NOT NULL UNIQUE,
    envelope        jsonb NOT NULL,  -- the por.validation.requested.v1 CloudEvent, as received
    parked_at       timestamptz NOT NULL DEFAULT now(),
    reason          text NOT NULL,
    decided_at      timestamptz  -- decided and in the outbox; the row goes once published
);
CREATE INDEX parked_requests_queue ON parked_requests (distributor_id, seq);
-- The few rows a drain decided and has not yet seen published (a crash, the broker).
CREATE INDEX parked_requests_decided ON parked_requests (distributor_id, seq)
    WHERE decided_at IS NOT NULL;

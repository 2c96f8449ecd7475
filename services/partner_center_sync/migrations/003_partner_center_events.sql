-- Partner Center's webhook events, as the API received them once their signature was
-- verified: the inbox (one row per distributor and body, so each of Partner Center's up to
-- 10 deliveries of an event has one effect) and the queue of those porgate acts on
-- ('pending' until the partner-center-sync worker has read what the event names).
SET LOCAL lock_timeout = '5s';
CREATE TABLE partner_center_events (
    distributor_id     text NOT NULL,
    body_sha256        text NOT NULL,
    event_name         text NOT NULL,
    resource_uri       text,
    resource_change_at timestamptz NOT NULL,
    body               jsonb NOT NULL,
    received_at        timestamptz NOT NULL DEFAULT now(),
    deliveries         integer NOT NULL DEFAULT 1,
    state              text NOT NULL CHECK (state IN ('pending', 'done', 'ignored', 'failed')),
    attempts           integer NOT NULL DEFAULT 0,
    next_attempt_at    timestamptz NOT NULL DEFAULT now(),
    last_error         text,
    settled_at         timestamptz,
    PRIMARY KEY (distributor_id, body_sha256)
);
CREATE INDEX partner_center_events_due ON partner_center_events (next_attempt_at)
    WHERE state = 'pending';
CREATE INDEX partner_center_events_received ON partner_center_events (received_at);

-- When `porgate partner-center webhooks test` asked Partner Center for a test event: it
-- allows 2 a minute, and so does the command, across every operator's machine.
CREATE TABLE webhook_test_requests (
    distributor_id text NOT NULL,
    requested_at   timestamptz NOT NULL DEFAULT now(),
    correlation_id text
);
CREATE INDEX webhook_test_requests_recent ON webhook_test_requests (distributor_id, requested_at);

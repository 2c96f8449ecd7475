-- Every change received and how it was classified.
CREATE TABLE changes (
    source_event_id text PRIMARY KEY,
    change_id       text NOT NULL,
    subscription_id text NOT NULL,
    distributor_id  text NOT NULL,
    kind            text NOT NULL,
    requested_at    timestamptz NOT NULL,
    basis           text NOT NULL,
    received_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX changes_subscription ON changes (subscription_id);

-- Every service's inbox and outbox, created in the service's own schema.

-- One row per CloudEvents id this service has processed: a redelivery or replay of the
-- same id is then a no-op. The body hash tells a true redelivery from a reused id.
CREATE TABLE inbox (
    event_id     text PRIMARY KEY,
    event_type   text NOT NULL,
    body_sha256  bytea NOT NULL,
    processed_at timestamptz NOT NULL DEFAULT now()
);

-- Messages written in the same transaction as the effect that caused them, published
-- after commit; whatever a crash left unpublished is sent on the next start.
CREATE TABLE outbox (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    source_event_id text NOT NULL,
    topic           text NOT NULL,
    key             bytea,
    value           bytea NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    published_at    timestamptz
);
CREATE INDEX outbox_unpublished ON outbox (id) WHERE published_at IS NULL;
CREATE INDEX outbox_source ON outbox (source_event_id);

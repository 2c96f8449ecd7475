-- The registry as the notifier sees it: a projection of csp.partner-registry.v1.
-- as_of is the upsert event's time: an older event replayed later never overwrites a newer state.
CREATE TABLE distributors (
    distributor_id     text PRIMARY KEY,
    preferred_language text NOT NULL DEFAULT 'en',
    as_of              timestamptz NOT NULL
);

CREATE TABLE partnerships (
    distributor_id     text NOT NULL,
    reseller_tenant_id text NOT NULL,
    status             text NOT NULL,
    as_of              timestamptz NOT NULL,
    PRIMARY KEY (distributor_id, reseller_tenant_id)
);
CREATE INDEX partnerships_by_reseller ON partnerships (reseller_tenant_id);

CREATE TABLE customer_assignments (
    customer_id        text NOT NULL,
    reseller_tenant_id text NOT NULL,
    distributor_id     text NOT NULL,
    status             text NOT NULL,
    as_of              timestamptz NOT NULL,
    PRIMARY KEY (customer_id, reseller_tenant_id, distributor_id)
);
CREATE INDEX customer_assignments_by_reseller ON customer_assignments (reseller_tenant_id, distributor_id);

CREATE TABLE gdap_relationships (
    relationship_id    text PRIMARY KEY,
    customer_id        text NOT NULL,
    reseller_tenant_id text NOT NULL,
    roles              text[] NOT NULL,
    status             text NOT NULL,
    ends_at            timestamptz,
    as_of              timestamptz NOT NULL
);
CREATE INDEX gdap_relationships_by_reseller ON gdap_relationships (reseller_tenant_id);

-- Kept apart from gdap_relationships so that a registry upsert, in whatever order it
-- arrives, never erases the fact that porgate revoked the relationship.
CREATE TABLE revoked_relationships (
    relationship_id    text PRIMARY KEY,
    customer_id        text NOT NULL,
    reseller_tenant_id text NOT NULL,
    reason             text NOT NULL,
    revoked_at         timestamptz NOT NULL,
    cause_event_id     text NOT NULL
);

-- One row per notification; the id is derived from the cause event, so a replay adds nothing.
CREATE TABLE notifications (
    notification_id text PRIMARY KEY,
    kind            text NOT NULL CHECK (kind IN ('transaction_blocked', 'privileges_revoked', 'partnership_removed')),
    distributor_id  text NOT NULL,
    language        text NOT NULL,
    cause_event_id  text NOT NULL,
    payload         jsonb NOT NULL,
    state           text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts        integer NOT NULL DEFAULT 0,
    last_error      text,
    -- Also the delivery lease: a claim pushes it past the HTTP timeout.
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    delivered_at    timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX notifications_due ON notifications (next_attempt_at) WHERE state = 'pending';
CREATE INDEX notifications_failed ON notifications (created_at) WHERE state = 'failed';
CREATE INDEX notifications_by_distributor ON notifications (distributor_id, created_at);

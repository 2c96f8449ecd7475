-- The registry as gdap-revoker sees it. as_of is the upsert event's time: an older event
-- replayed later never overwrites a newer state.
CREATE TABLE reseller_tenants (
    reseller_tenant_id text PRIMARY KEY,
    status             text NOT NULL,
    -- The event that set this state: the cause of revocations a suspension makes.
    event_id           text NOT NULL,
    as_of              timestamptz NOT NULL
);

CREATE TABLE customer_assignments (
    distributor_id     text NOT NULL,
    customer_id        text NOT NULL,
    reseller_tenant_id text NOT NULL,
    status             text NOT NULL,
    as_of              timestamptz NOT NULL,
    PRIMARY KEY (distributor_id, customer_id, reseller_tenant_id)
);
CREATE INDEX customer_assignments_by_pair ON customer_assignments (reseller_tenant_id, customer_id);

CREATE TABLE gdap_relationships (
    relationship_id    text PRIMARY KEY,
    customer_id        text NOT NULL,
    reseller_tenant_id text NOT NULL,
    roles              text[] NOT NULL,
    status             text NOT NULL,
    ends_at            timestamptz,
    as_of              timestamptz NOT NULL
);
CREATE INDEX gdap_relationships_by_reseller ON gdap_relationships (reseller_tenant_id, customer_id);

-- One row per relationship ever revoked: the primary key is what makes a revocation
-- happen once, whatever is redelivered or replayed. The terminator works the pending rows.
CREATE TABLE terminations (
    relationship_id    text PRIMARY KEY,
    customer_id        text NOT NULL,
    reseller_tenant_id text NOT NULL,
    reason             text NOT NULL CHECK (reason IN ('reseller_suspended', 'customer_unassigned')),
    cause_event_id     text NOT NULL,
    state              text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'terminated', 'failed')),
    attempts           integer NOT NULL DEFAULT 0,
    last_error         text,
    requested_at       timestamptz NOT NULL DEFAULT now(),
    next_attempt_at    timestamptz NOT NULL DEFAULT now(),
    terminated_at      timestamptz
);
CREATE INDEX terminations_due ON terminations (next_attempt_at) WHERE state = 'pending';
CREATE INDEX terminations_failed ON terminations (requested_at) WHERE state = 'failed';

-- What the ledger gateway (the default, no Graph access) records as terminated.
CREATE TABLE termination_ledger (
    relationship_id    text PRIMARY KEY,
    customer_id        text NOT NULL,
    reseller_tenant_id text NOT NULL,
    reason             text NOT NULL,
    recorded_at        timestamptz NOT NULL DEFAULT now()
);

-- The partner registry as this service sees it: a projection of csp.partner-registry.v1.
-- as_of is the upsert event's time: an older event replayed later never overwrites a newer state.
CREATE TABLE distributors (
    distributor_id     text PRIMARY KEY,
    name               text NOT NULL,
    country            text NOT NULL,
    csp_region         text,
    preferred_language text NOT NULL DEFAULT 'en',
    as_of              timestamptz NOT NULL
);

CREATE TABLE partner_accounts (
    partner_id         text PRIMARY KEY,
    account_type       text NOT NULL,
    status             text NOT NULL,
    name               text NOT NULL,
    reseller_tenant_id text,
    as_of              timestamptz NOT NULL
);

CREATE TABLE reseller_tenants (
    reseller_tenant_id           text PRIMARY KEY,
    name                         text NOT NULL,
    kind                         text NOT NULL,
    status                       text NOT NULL,
    indirect_reseller_authorized boolean NOT NULL,
    country                      text NOT NULL,
    csp_region                   text,
    as_of                        timestamptz NOT NULL
);

CREATE TABLE partnerships (
    distributor_id     text NOT NULL,
    reseller_tenant_id text NOT NULL,
    status             text NOT NULL,
    as_of              timestamptz NOT NULL,
    PRIMARY KEY (distributor_id, reseller_tenant_id)
);

-- Every decision this service made, as published.
CREATE TABLE decisions (
    decision_id            text PRIMARY KEY,
    source_event_id        text NOT NULL,
    transaction_kind       text NOT NULL,
    order_id               text,
    subscription_id        text,
    change_id              text,
    distributor_id         text NOT NULL,
    customer_id            text NOT NULL,
    outcome                text NOT NULL,
    basis                  text NOT NULL,
    error_codes            integer[] NOT NULL,
    primary_error_code     integer,
    supersedes_decision_id text,
    requested_at           timestamptz NOT NULL,
    decided_at             timestamptz NOT NULL,
    request                jsonb NOT NULL,
    decision               jsonb NOT NULL
);
CREATE INDEX decisions_source ON decisions (source_event_id);
CREATE INDEX decisions_blocked ON decisions (distributor_id, decided_at) WHERE outcome = 'blocked';

-- Which PLA IDs were the POR on which distributor's transactions: the eligibility report's population.
CREATE TABLE decision_lines (
    decision_id         text NOT NULL REFERENCES decisions (decision_id),
    line_item_id        text NOT NULL,
    partner_id_on_record text,
    distributor_id      text NOT NULL,
    decided_at          timestamptz NOT NULL,
    error_codes         integer[] NOT NULL,
    PRIMARY KEY (decision_id, line_item_id)
);
CREATE INDEX decision_lines_by_distributor ON decision_lines (distributor_id, decided_at);

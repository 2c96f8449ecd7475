-- A lock timeout, as in 003: a rollout must not queue the running notifier behind it.
SET LOCAL lock_timeout = '5s';
-- The at-risk report and its weekly digest (PORGATE_AT_RISK_DIGEST) evaluate the POR of
-- every subscription porgate has seen against the registry now, so the notifier projects
-- the rest of what the rules read: accounts, tenants, and the distributors' regions.
-- Rows from before this migration lack them until the entity's next upsert.
ALTER TABLE distributors ADD COLUMN country text, ADD COLUMN csp_region text;

CREATE TABLE partner_accounts (
    partner_id         text PRIMARY KEY,
    account_type       text NOT NULL,
    status             text NOT NULL,
    reseller_tenant_id text,
    as_of              timestamptz NOT NULL
);

CREATE TABLE reseller_tenants (
    reseller_tenant_id           text PRIMARY KEY,
    kind                         text NOT NULL,
    status                       text NOT NULL,
    indirect_reseller_authorized boolean NOT NULL,
    country                      text NOT NULL,
    csp_region                   text,
    as_of                        timestamptz NOT NULL
);

-- The subscriptions porgate has seen, from every decision (services/domain/at_risk.py says
-- which): a change's subscription by its id (line_item_id ''), an accepted order's line by
-- order id and line item id (subscription_id NULL). The latest decision wins.
CREATE TABLE seen_subscriptions (
    ref_kind             text NOT NULL CHECK (ref_kind IN ('subscription', 'order_line')),
    ref_id               text NOT NULL,
    line_item_id         text NOT NULL,
    subscription_id      text,
    order_id             text,
    distributor_id       text NOT NULL,
    customer_id          text NOT NULL,
    partner_id_on_record text,
    decision_id          text NOT NULL,
    last_seen_at         timestamptz NOT NULL,
    PRIMARY KEY (ref_kind, ref_id, line_item_id)
);
CREATE INDEX seen_subscriptions_by_distributor ON seen_subscriptions (distributor_id);

-- NOT VALID, as in 003.
ALTER TABLE notifications DROP CONSTRAINT notifications_kind_check;
ALTER TABLE notifications ADD CONSTRAINT notifications_kind_check CHECK (
    kind IN ('transaction_blocked', 'privileges_revoked', 'partnership_removed', 'registry_drift',
             'transaction_would_block', 'transaction_released', 'at_risk_digest')
) NOT VALID;

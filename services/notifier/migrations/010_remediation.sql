-- A lock timeout, as in 003: a rollout must not queue the running notifier behind it.
SET LOCAL lock_timeout = '5s';
-- A blocked notification carries the remediation (services/domain/remediation.py): the
-- distributor's own partnership-request link, and the organisation (PGA id) each PLA
-- belongs to, for the organisation's other PLA ids. NULL for rows projected before these
-- columns, until the entity's next upsert.
ALTER TABLE distributors ADD COLUMN partnership_request_url text;
ALTER TABLE partner_accounts ADD COLUMN global_partner_id text;
CREATE INDEX partner_accounts_by_organisation ON partner_accounts (global_partner_id)
    WHERE global_partner_id IS NOT NULL;

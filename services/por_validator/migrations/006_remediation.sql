-- A rollout's migration must not queue the running consumers behind it for long.
SET LOCAL lock_timeout = '5s';
-- Remediation (issue 24): the distributor's own partnership-request link, and the
-- organisation (PGA id) each PLA belongs to, so a blocked line can name the organisation's
-- other PLA ids. NULL for rows projected before these columns, until the next upsert.
ALTER TABLE distributors ADD COLUMN partnership_request_url text;
ALTER TABLE partner_accounts ADD COLUMN global_partner_id text;
CREATE INDEX partner_accounts_by_organisation ON partner_accounts (global_partner_id)
    WHERE global_partner_id IS NOT NULL;

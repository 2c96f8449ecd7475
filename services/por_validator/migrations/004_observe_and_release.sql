-- Observe mode: a distributor's own enforcement mode, and the decisions it accepted that
-- enforcement would have blocked (`porgate report observe` reads them by distributor and time).
ALTER TABLE distributors ADD COLUMN enforcement_mode text;
ALTER TABLE decisions ADD COLUMN would_block boolean NOT NULL DEFAULT false;
CREATE INDEX decisions_would_block ON decisions (distributor_id, decided_at) WHERE would_block;

-- Automatic release: from a registry fact to the blocked lines that depend on it, by index.
CREATE INDEX decision_lines_blocked_by_pid
    ON decision_lines (btrim(partner_id_on_record), decided_at) WHERE error_codes <> '{}';
CREATE INDEX decision_lines_blocked_by_distributor
    ON decision_lines (distributor_id, decided_at) WHERE error_codes <> '{}';
CREATE INDEX partner_accounts_by_tenant ON partner_accounts (reseller_tenant_id);
CREATE INDEX decisions_superseded ON decisions (supersedes_decision_id)
    WHERE supersedes_decision_id IS NOT NULL;

-- A rollout's migration must not queue the running consumers behind it for long.
SET LOCAL lock_timeout = '5s';

-- Observe mode: a distributor's own enforcement mode, and the decisions it accepted that
-- enforcement would have blocked (`porgate report observe` reads them by distributor and time).
ALTER TABLE distributors ADD COLUMN enforcement_mode text;
ALTER TABLE decisions ADD COLUMN would_block boolean NOT NULL DEFAULT false;
CREATE INDEX decisions_would_block ON decisions (distributor_id, decided_at) WHERE would_block;

-- Automatic release: from a registry fact to the blocked lines that depend on it, by index.
-- pla_id is the line's PLA id as the rules normalise it (Python's strip, not SQL's btrim).
ALTER TABLE decision_lines ADD COLUMN pla_id text;
UPDATE decision_lines SET pla_id = btrim(partner_id_on_record)
    WHERE error_codes <> '{}' AND decided_at > now() - interval '90 days';
CREATE INDEX decision_lines_blocked_by_pla ON decision_lines (pla_id, decided_at)
    WHERE error_codes <> '{}';
CREATE INDEX partner_accounts_by_tenant ON partner_accounts (reseller_tenant_id);
-- A decision is superseded at most once: two re-decisions racing for it cannot both land.
CREATE UNIQUE INDEX decisions_superseded ON decisions (supersedes_decision_id)
    WHERE supersedes_decision_id IS NOT NULL;

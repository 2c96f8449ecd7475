-- A rollout's migration must not queue the running consumers behind it for long.
SET LOCAL lock_timeout = '5s';
-- The console's reads (services/console/queries.py). Newest-first keyset pages over every
-- decision or one distributor's, whose INCLUDE columns let the overview's per-minute counts
-- be index-only scans; lookups by each id a reader searches by. The ids are partial indexes:
-- a change has no order id, an order no subscription id.
CREATE INDEX decisions_timeline
    ON decisions (decided_at DESC, decision_id DESC) INCLUDE (outcome, distributor_id, primary_error_code);
CREATE INDEX decisions_distributor_timeline
    ON decisions (distributor_id, decided_at DESC, decision_id DESC) INCLUDE (outcome, primary_error_code);
CREATE INDEX decisions_by_order ON decisions (order_id) WHERE order_id IS NOT NULL;
CREATE INDEX decisions_by_subscription ON decisions (subscription_id) WHERE subscription_id IS NOT NULL;
CREATE INDEX decisions_by_customer ON decisions (customer_id);
CREATE INDEX decisions_by_superseded ON decisions (supersedes_decision_id)
    WHERE supersedes_decision_id IS NOT NULL;
-- Trimmed, as every reader of the column compares it (the eligibility report too).
CREATE INDEX decision_lines_by_partner ON decision_lines (btrim(partner_id_on_record));

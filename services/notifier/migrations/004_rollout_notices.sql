-- Observe mode's "would have been blocked" and automatic release's "released" (NOT VALID and
-- a lock timeout, as in 003).
SET LOCAL lock_timeout = '5s';
ALTER TABLE notifications DROP CONSTRAINT notifications_kind_check;
ALTER TABLE notifications ADD CONSTRAINT notifications_kind_check CHECK (
    kind IN ('transaction_blocked', 'privileges_revoked', 'partnership_removed', 'registry_drift',
             'transaction_would_block', 'transaction_released')
) NOT VALID;

-- A GDAP termination that failed for good is told to the distributor. NOT VALID, as in 003.
SET LOCAL lock_timeout = '5s';
ALTER TABLE notifications DROP CONSTRAINT notifications_kind_check;
ALTER TABLE notifications ADD CONSTRAINT notifications_kind_check CHECK (
    kind IN ('transaction_blocked', 'privileges_revoked', 'partnership_removed', 'registry_drift',
             'transaction_would_block', 'transaction_released', 'at_risk_digest',
             'gdap_termination_failed')
) NOT VALID;

-- Partner Center and the registry disagreeing about a PLA id (PORGATE_POR_AUTHORITY=partner-center).
-- NOT VALID: every existing row passed the narrower check it replaces, so there is nothing
-- to scan for, and no long ACCESS EXCLUSIVE lock on a busy table; the lock timeout keeps a
-- rollout from queueing the running notifier behind it.
SET LOCAL lock_timeout = '5s';
ALTER TABLE notifications DROP CONSTRAINT notifications_kind_check;
ALTER TABLE notifications ADD CONSTRAINT notifications_kind_check CHECK (
    kind IN ('transaction_blocked', 'privileges_revoked', 'partnership_removed', 'registry_drift')
) NOT VALID;

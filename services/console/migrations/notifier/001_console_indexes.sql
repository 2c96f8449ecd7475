-- A rollout's migration must not queue the running consumers behind it for long.
SET LOCAL lock_timeout = '5s';
-- The console's transaction page lists a decision's notifications by their cause.
-- IF NOT EXISTS: the notifier's own migration 005 created it until the console had
-- migrations of its own, so a schema migrated before has it already.
CREATE INDEX IF NOT EXISTS notifications_by_cause ON notifications (cause_event_id);

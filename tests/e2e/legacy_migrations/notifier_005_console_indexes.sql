-- A rollout's migration must not queue the running consumers behind it for long.
SET LOCAL lock_timeout = '5s';
-- The console's transaction page lists a decision's notifications by their cause.
CREATE INDEX notifications_by_cause ON notifications (cause_event_id);

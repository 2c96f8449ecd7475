-- The console's transaction page lists a decision's notifications by their cause.
CREATE INDEX notifications_by_cause ON notifications (cause_event_id);

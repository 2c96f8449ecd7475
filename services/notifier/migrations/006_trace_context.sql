-- The W3C traceparent of the event that caused a notification (services/common/tracing.py),
-- so its delivery, made later by the worker, joins that trace. NULL while tracing is off.
SET LOCAL lock_timeout = '5s';
ALTER TABLE notifications ADD COLUMN traceparent text;

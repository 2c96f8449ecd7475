-- The W3C traceparent of the event that asked for a termination (services/common/tracing.py),
-- so the Graph call, made later by the worker, joins that trace. NULL while tracing is off.
SET LOCAL lock_timeout = '5s';
ALTER TABLE terminations ADD COLUMN traceparent text;

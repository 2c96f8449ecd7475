-- The W3C trace context of what caused a row (services/common/tracing.py), so the trace goes
-- on when the row is sent later, possibly by another process after a crash. NULL while
-- tracing is off. Adding a nullable column without a default rewrites nothing.
SET LOCAL lock_timeout = '5s';
ALTER TABLE outbox ADD COLUMN traceparent text, ADD COLUMN tracestate text;

-- Every endpoint a notifier delivers to has a row from its first start, with how its
-- deliveries go, so `porgate notifications endpoints` lists a healthy endpoint too, not only
-- one that was paused or disabled. Nullable columns and a constant default: no table rewrite.
SET LOCAL lock_timeout = '5s';
ALTER TABLE webhook_endpoints
    ADD COLUMN registered_at     timestamptz,
    ADD COLUMN last_attempt_at   timestamptz,
    ADD COLUMN last_result       text,
    ADD COLUMN last_delivered_at timestamptz,
    ADD COLUMN delivered         bigint NOT NULL DEFAULT 0;

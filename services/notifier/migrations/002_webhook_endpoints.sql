-- Webhook endpoints by URL, as the Standard Webhooks convention asks a sender to treat them:
-- a 410 Gone disables one until an operator re-enables it (`porgate notifications enable`);
-- a 429, 502 or 504 pauses it until its Retry-After. A URL with no row is enabled: a new
-- PORGATE_NOTIFY_WEBHOOK_URL starts enabled whatever the old one answered.
CREATE TABLE webhook_endpoints (
    url             text PRIMARY KEY,
    disabled_at     timestamptz,
    disabled_reason text,
    paused_until    timestamptz,
    enabled_at      timestamptz  -- when an operator last re-enabled it
);

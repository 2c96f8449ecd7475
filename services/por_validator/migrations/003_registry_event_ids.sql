-- A rollout's migration must not queue the running consumers behind it for long.
SET LOCAL lock_timeout = '5s';
-- The id of the event that set each registry row, next to its as_of: an explanation shows
-- which event each fact it read came from. NULL for rows projected before this column,
-- until the entity's next upsert.
ALTER TABLE distributors ADD COLUMN event_id text;
ALTER TABLE partner_accounts ADD COLUMN event_id text;
ALTER TABLE reseller_tenants ADD COLUMN event_id text;
ALTER TABLE partnerships ADD COLUMN event_id text;

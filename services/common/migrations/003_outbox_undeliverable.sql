-- A row the broker refuses for good (too large, say) is set aside with the reason instead
-- of being retried forever; its source event is dead-lettered.
ALTER TABLE outbox ADD COLUMN undeliverable text;
DROP INDEX outbox_unpublished;
CREATE INDEX outbox_unpublished ON outbox (id) WHERE published_at IS NULL AND undeliverable IS NULL;

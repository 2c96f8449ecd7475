-- For the hourly housekeeping that deletes old inbox ids and published outbox rows.
CREATE INDEX inbox_processed_at ON inbox (processed_at);
CREATE INDEX outbox_published_at ON outbox (published_at) WHERE published_at IS NOT NULL;

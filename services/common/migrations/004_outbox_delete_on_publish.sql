-- Published rows are deleted instead of marked (a delete writes a fraction of the WAL of an
-- update of the whole row, and keeps the table as small as what is owed to the broker): the
-- outbox now holds only rows to send and rows set aside as undeliverable.
DELETE FROM outbox WHERE published_at IS NOT NULL;
DROP INDEX outbox_published_at;
DROP INDEX outbox_unpublished;
ALTER TABLE outbox DROP COLUMN published_at;

-- Every row of the outbox lives for a moment (written, sent, deleted in bulk), yet each paid
-- for three index entries. Publishing at start walks the primary key; the unsent rows of a
-- redelivered event are found by scanning what little the table holds.
DROP INDEX outbox_source;
DROP INDEX outbox_unpublished;
-- Housekeeping deletes old inbox ids once an hour: a BRIN index on the append-ordered time
-- finds them for a fraction of a b-tree's upkeep on every event.
DROP INDEX inbox_processed_at;
CREATE INDEX inbox_processed_at ON inbox USING brin (processed_at);

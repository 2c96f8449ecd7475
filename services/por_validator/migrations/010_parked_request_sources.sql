-- A rollout's migration must not queue the running consumers behind it for long.
SET LOCAL lock_timeout = '5s';
-- Where each parked request came from, as it came: a request the drain can never decide
-- (a poison message) goes to por.dlq.v1 like any other, with its original bytes, key and
-- source coordinates, and its distributor's queue goes on. Rows parked before this migration
-- have none; their dead letter carries the stored envelope and offset -1.
ALTER TABLE parked_requests
    ADD COLUMN source_topic     text,
    ADD COLUMN source_partition integer,
    ADD COLUMN source_offset    bigint,
    ADD COLUMN source_key       bytea,
    ADD COLUMN source_value     bytea;

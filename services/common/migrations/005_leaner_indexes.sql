-- Publishing what a crash left behind walks the primary key in id order with the same
-- filter, so this partial index on id only cost an entry for every row written. A short
-- lock timeout: a rollout's migration must not queue the running consumers behind it.
SET LOCAL lock_timeout = '5s';
DROP INDEX outbox_unpublished;

-- Sent rows are now deleted at once instead of marked (a delete writes a fraction of the WAL
-- of rewriting the row and its indexes), so the table holds only what is owed to the broker
-- and what was set aside as undeliverable. published_at stays for a release: pods of the
-- previous one still mark rows during a rollout (deploy/README.md: expand, then contract).
DROP INDEX outbox_published_at;

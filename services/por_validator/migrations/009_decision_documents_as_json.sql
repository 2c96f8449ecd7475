-- A rollout's migration must not queue the running consumers behind it for long.
SET LOCAL lock_timeout = '5s';
-- The request and the decision are kept as the documents they are, read back whole and never
-- queried inside: json stores the text as written, where jsonb parsed each into its binary
-- form, at 12-26 us of PostgreSQL's CPU per decision (a tenth to a fifth of its cost per
-- order; benchmarks/README.md). Rewrites the table and its indexes while por-validator and the
-- console wait: 9 s for 300,000 decisions on the benchmark's machine (30 s per million).
ALTER TABLE decisions
    ALTER COLUMN request TYPE json USING request::json,
    ALTER COLUMN decision TYPE json USING decision::json;

-- What the GDAP sync last recorded of each relationship in a distributor's Graph list that
-- the distributor created for an indirect reseller: the csp.gdap-relationship.upserted.v1
-- data as published. Rows are kept after a relationship leaves the list (status 'absent'):
-- its version goes on counting, and event ids derive from it.
SET LOCAL lock_timeout = '5s';
CREATE TABLE seen_gdap_relationships (
    distributor_id  text NOT NULL,
    relationship_id text NOT NULL,
    data            jsonb NOT NULL,
    version         integer NOT NULL,
    changed_at      timestamptz NOT NULL,
    PRIMARY KEY (distributor_id, relationship_id)
);
